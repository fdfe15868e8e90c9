// The topic-handler registry: loads every handler in consumers/, validates each event against the
// handler's schema, retries failures with backoff, and sends what cannot be handled to `<topic>.dlq`.
import { EventEmitter } from 'node:events'
import { readdir } from 'node:fs/promises'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { setTimeout as wait } from 'node:timers/promises'
import type { FastifyBaseLogger, FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import type { Static, TSchema } from '@sinclair/typebox'
import { TypeCompiler } from '@sinclair/typebox/compiler'
import type { BusRecord, Consumer, DeliveryMode } from './bus/index.ts'
import type { Position } from '../schemas/message.ts'
import { isTransient } from './errors.ts'

export interface HandlerContext {
  app: FastifyInstance
  record: BusRecord
  /** The record's place in its stream: {epoch, offset}. */
  position: Position
  log: FastifyBaseLogger
}

export interface TopicHandler<S extends TSchema = TSchema> {
  /** Unique; names the consumer group. */
  name: string
  topic: string
  mode: DeliveryMode
  schema: S
  handle (event: Static<S>, ctx: HandlerContext): Promise<void>
  /** Attempts before the dead-letter queue (default 5); transient errors are retried without limit. */
  maxAttempts?: number
}

/** Identity function that types `handle` from the schema. */
export function defineTopicHandler<S extends TSchema> (handler: TopicHandler<S>): TopicHandler<S> {
  return handler
}

export interface DeadLetter {
  reason: string
  handler: string
  topic: string
  partition: number
  offset: string
  failedAt: string
  payload: string
}

/** Emitted after every record a handler finished with: metrics count them, tests wait for them. */
export interface HandledRecord { handler: string, topic: string, partition: number, offset: string, epoch: string, outcome: 'ok' | 'dead-letter' }

export interface TopicHandlers {
  list: TopicHandler[]
  topics (): string[]
  /** 'handled' (HandledRecord) after each record. */
  events: EventEmitter<{ handled: [HandledRecord] }>
}

declare module 'fastify' {
  interface FastifyInstance { topicHandlers: TopicHandlers }
}

const BACKOFF_MS = [50, 200, 500, 1000, 2000, 5000]

export interface TopicHandlersOptions {
  /** Folder to load handlers from (default: consumers/). */
  dir?: string
  /** Extra handlers, e.g. from tests or plugins. */
  handlers?: TopicHandler[]
}

export async function loadHandlers (dir: string): Promise<TopicHandler[]> {
  const files = (await readdir(dir)).filter((f) => /\.(ts|js)$/.test(f) && !f.endsWith('.d.ts')).sort()
  const handlers: TopicHandler[] = []
  for (const file of files) {
    const mod = await import(pathToFileURL(`${dir}/${file}`).href) as { default?: TopicHandler }
    if (!mod.default?.topic || typeof mod.default.handle !== 'function') throw new Error(`consumers/${file} must export default defineTopicHandler({...})`)
    handlers.push(mod.default)
  }
  return handlers
}

export default fp<TopicHandlersOptions>(async function topicHandlers (app, opts) {
  const dir = opts.dir ?? fileURLToPath(new URL('../consumers', import.meta.url))
  const list = [...await loadHandlers(dir), ...(opts.handlers ?? [])]
  const names = new Set<string>()
  for (const h of list) {
    if (names.has(h.name)) throw new Error(`two topic handlers are named ${h.name}`)
    names.add(h.name)
  }
  const topics = () => [...new Set(list.flatMap((h) => [h.topic, `${h.topic}.dlq`]))]
  const events = new EventEmitter<{ handled: [HandledRecord] }>()
  events.setMaxListeners(0)
  app.decorate('topicHandlers', { list, topics, events })

  const consumers: Consumer[] = []
  let closing = false

  async function deadLetter (handler: TopicHandler, record: BusRecord, reason: string, log: FastifyBaseLogger) {
    const letter: DeadLetter = { reason, handler: handler.name, topic: record.topic, partition: record.partition, offset: record.offset, failedAt: new Date().toISOString(), payload: record.value.toString('utf8') }
    log.warn({ reason }, 'event sent to the dead-letter queue')
    for (let attempt = 0; !closing; attempt++) {
      try {
        await app.bus.produce(`${record.topic}.dlq`, record.key, JSON.stringify(letter))
        return true
      } catch (err) {
        log.error({ err }, 'could not write to the dead-letter queue; retrying')
        await wait(BACKOFF_MS[Math.min(attempt, BACKOFF_MS.length - 1)])
      }
    }
    return false
  }

  function consumerFor (handler: TopicHandler) {
    const check = TypeCompiler.Compile(handler.schema)
    const maxAttempts = handler.maxAttempts ?? 5
    const baseLog = app.log.child({ handler: handler.name, topic: handler.topic })
    const handled = (record: BusRecord, outcome: HandledRecord['outcome']) => {
      events.emit('handled', { handler: handler.name, topic: record.topic, partition: record.partition, offset: record.offset, epoch: record.epoch, outcome })
    }
    const dead = async (record: BusRecord, reason: string, log: FastifyBaseLogger) => {
      // Not dead-lettered (shutting down): throw, so the offset stays uncommitted and it is not lost.
      if (!await deadLetter(handler, record, reason, log)) throw new Error(`closing: ${reason}; left in the log`)
      handled(record, 'dead-letter')
    }
    return async (record: BusRecord) => {
      // A child logger per record costs on the hot path: made only when something is logged.
      let child: FastifyBaseLogger | undefined
      const log = () => (child ??= baseLog.child({ partition: record.partition, offset: record.offset }))
      let event: unknown
      try {
        event = JSON.parse(record.value.toString('utf8'))
      } catch {
        return dead(record, 'invalid JSON', log())
      }
      if (!check.Check(event)) {
        const first = check.Errors(event).First()
        return dead(record, `schema: ${first ? `${first.path || '/'} ${first.message}` : 'invalid event'}`, log())
      }
      const ctx: HandlerContext = { app, record, position: { epoch: record.epoch, offset: record.offset }, get log () { return log() } }
      for (let attempt = 1; ; attempt++) {
        try {
          await handler.handle(event, ctx)
          handled(record, 'ok')
          return
        } catch (err) {
          if (closing) throw err // leave it uncommitted: another instance or the next start handles it
          if (!isTransient(err) && attempt >= maxAttempts) {
            return dead(record, `failed ${attempt} times: ${(err as Error).message}`, log())
          }
          log()[attempt === 1 ? 'warn' : 'error']({ err, attempt }, 'topic handler failed; retrying')
          await wait(BACKOFF_MS[Math.min(attempt - 1, BACKOFF_MS.length - 1)])
        }
      }
    }
  }

  app.addHook('onReady', async () => {
    await app.bus.ensureTopics(topics())
    for (const handler of list) {
      consumers.push(await app.bus.consume({ name: handler.name, topic: handler.topic, mode: handler.mode, handle: consumerFor(handler) }))
    }
    app.log.info({ handlers: list.map((h) => `${h.topic}→${h.name} (${h.mode})`) }, 'topic handlers subscribed')
  })

  app.addHook('onClose', async () => {
    closing = true
    await Promise.all(consumers.map((c) => c.stop()))
  })
}, { name: 'topic-handlers', dependencies: ['bus'] })
