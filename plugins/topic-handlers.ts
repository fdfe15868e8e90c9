// The topic-handler registry and its consume pipeline. Handlers come from consumers/ (one file each),
// from plugins (`app.topicHandlers.add`) and from the catalogue: a topic that declares `fanout` gets
// its relay to sockets without a file (plugins/topic-relay.ts). Per delivery mode this instance runs ONE consumer over
// all the topics it handles: each record is fetched, parsed and validated once, then handed to every
// handler of its topic and mode, a batch at a time (a partition's records in order). Retries and dead letters stay
// per handler and per record; a batch is committed once every handler of its consumer is done with all
// of it. A handler may name a `group` of its own, so that an outage of what it needs holds back no other.
import { EventEmitter } from 'node:events'
import { readdir } from 'node:fs/promises'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { setTimeout as wait } from 'node:timers/promises'
import type { FastifyBaseLogger, FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import type { Static, TSchema } from '@sinclair/typebox'
import type { BatchControl, BusRecord, Consumer, DeliveryMode } from './bus/index.ts'
import type { Position } from '../schemas/message.ts'
import { topics as catalogue, type Topic } from '../schemas/topics.ts'
import { relayOf } from './topic-relay.ts'
import { schemaError, type DeclaredTopic } from './events.ts'
import { isTransient } from './external/errors.ts'
import { startUpSteps } from './external/start-up.ts'
import type { Config, Role } from '../config.ts'

/** One valid event of a batch, with the record it came from and its place in its stream. */
export interface TopicEvent<E = unknown> {
  event: E
  record: BusRecord
  /** {epoch, offset} of the record. */
  position: Position
}

export interface HandlerContext {
  app: FastifyInstance
  record: BusRecord
  /** The record's place in its stream: {epoch, offset}. */
  position: Position
  log: FastifyBaseLogger
}

export interface BatchContext {
  app: FastifyInstance
  log: FastifyBaseLogger
}

export interface TopicHandler<S extends TSchema = TSchema> {
  /** Unique; names the handler in logs, metrics and dead letters. */
  name: string
  /** A topic of the catalogue (schemas/topics.ts) or one declared with `defineTopic`. */
  topic: Topic<S>
  mode: DeliveryMode
  /** Roles that run it (config ROLES); default: `shared` → workers, `broadcast` → fanout. */
  roles?: readonly Role[]
  /** One event at a time. */
  handle? (event: Static<S>, ctx: HandlerContext): Promise<void>
  /**
   * A batch of one partition's events, in order: one round trip for all of them. On an error that is
   * not transient the batch is retried one event at a time, so a poison event dead-letters alone.
   */
  handleBatch? (events: Array<TopicEvent<Static<S>>>, ctx: BatchContext): Promise<void>
  /** Attempts before the dead-letter queue (default 5); transient errors are retried without limit. */
  maxAttempts?: number
  /**
   * Waits before the retries, in ms: the first before the 2nd attempt, the last repeats (default 50,
   * 200, 500, 1000, 2000, 5000). Keep each well under the Kafka session timeout (10 s): the consumer
   * heartbeats between waits.
   */
  backoffMs?: readonly number[]
  /**
   * Runs in a consumer (and consumer group) of its own, `<mode>[.<topic> when positioned].<group>`:
   * a slow call or a long retry here never holds the batches of the other handlers of its topic
   * (the store, the cache, the recovery log), nor theirs its own. Handlers of a mode naming the
   * same group share one consumer. A batch is committed once every handler of its consumer is done
   * with it, so handlers that need different services belong in different groups: a handler that
   * waits out its service's outage then holds back only its own group.
   */
  group?: string
  /**
   * With `group`: how long its consumer lets records gather before the next fetch under load, in ms,
   * instead of KAFKA_CONSUME_LINGER_MS (Kafka only). Bigger batches for a handler whose store pays
   * per write, at the price of lagging that much behind the log.
   */
  lingerMs?: number | ((config: Config) => number)
}

/** Identity function that types `handle` / `handleBatch` from the topic's schema. */
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

export type HandlerEvents = { handled: [HandledRecord], dead: [{ mode: DeliveryMode, err: Error }] }

/** What one handler finished with, counted in place (read by /metrics at scrape time). */
export interface HandledCounts { topic: string, handler: string, ok: number, deadLetter: number }

/**
 * Counters read by /metrics: what the pipeline did once per record and once per batch, and per
 * handler (plain numbers on the hot path; the metric objects read them only when scraped).
 */
export interface PipelineStats { batches: number, records: number, parsed: number, handled: Map<string, HandledCounts> }

export interface TopicHandlers {
  /** Handlers this instance runs (its roles), in load order. */
  list: TopicHandler[]
  /** Adds a handler before the app is ready (a plugin's own handlers); throws once consumers run. */
  add (handler: TopicHandler): void
  /**
   * Declares a plugin's topic before the app is ready: the producer validates its events and, when
   * it declares `fanout`, its relay delivers them to sockets. Throws once consumers run.
   */
  addTopic (topic: Topic): void
  /** Topics (and their dead-letter topics) this instance's handlers read. */
  topics (): string[]
  /** 'handled' (HandledRecord) after each record and handler; 'dead' when the log gave up on a consumer for good. */
  events: EventEmitter<HandlerEvents>
  stats: PipelineStats
}

declare module 'fastify' {
  interface FastifyInstance { topicHandlers: TopicHandlers }
}

const BACKOFF_MS: readonly number[] = [50, 200, 500, 1000, 2000, 5000]
const backoff = (attempt: number, delays = BACKOFF_MS) => delays[Math.min(attempt - 1, delays.length - 1)]

export interface TopicHandlersOptions {
  /** Folder to load handlers from (default: consumers/). */
  dir?: string
  /** Extra handlers, e.g. from tests or plugins. */
  handlers?: TopicHandler[]
  /** Extra catalogue entries, e.g. from tests or plugins: declared, and relayed when they have `fanout`. */
  topics?: Topic[]
}

export async function loadHandlers (dir: string): Promise<TopicHandler[]> {
  const files = (await readdir(dir)).filter((f) => /\.(ts|js)$/.test(f) && !f.endsWith('.d.ts')).sort()
  const handlers: TopicHandler[] = []
  for (const file of files) {
    const mod = await import(pathToFileURL(`${dir}/${file}`).href) as { default?: TopicHandler }
    const h = mod.default
    if (!h?.topic?.name || (typeof h.handle !== 'function' && typeof h.handleBatch !== 'function')) {
      throw new Error(`consumers/${file} must export default defineTopicHandler({ name, topic, mode, handle or handleBatch })`)
    }
    handlers.push(h)
  }
  return handlers
}

/**
 * A per-record handler's context. One is made per record on the hot path: a class (its getter on the
 * prototype, not a new closure per record), and the child logger only once something logs.
 */
class RecordContext implements HandlerContext {
  readonly record: BusRecord
  readonly position: Position
  #log: FastifyBaseLogger | undefined
  constructor (readonly app: FastifyInstance, item: TopicEvent, private readonly baseLog: FastifyBaseLogger) {
    this.record = item.record
    this.position = item.position
  }

  get log (): FastifyBaseLogger {
    return (this.#log ??= this.baseLog.child({ partition: this.record.partition, offset: this.record.offset }))
  }
}

/** Thrown out of a batch when the partition was taken away (rebalance) or the app is closing. */
class Abandoned extends Error {}

/** The roles a handler runs in. */
/**
 * The consumer (bus consumer name) that reads `topic` in `mode` on this instance: a message stream
 * (a positioned topic) has one of its own per mode, the quiet topics of a mode share one.
 */
export function consumerName (topic: Pick<Topic, 'name' | 'positioned'>, mode: DeliveryMode): string {
  return topic.positioned ? `${mode}.${topic.name}` : mode
}

export function handlerRoles (h: TopicHandler): readonly Role[] {
  return h.roles ?? (h.mode === 'shared' ? ['workers'] : ['fanout'])
}

export default fp<TopicHandlersOptions>(async function topicHandlers (app, opts) {
  const dir = opts.dir ?? fileURLToPath(new URL('../consumers', import.meta.url))
  const roles = app.roles
  const list: TopicHandler[] = []
  const names = new Set<string>()
  let started = false
  const add = (h: TopicHandler) => {
    if (started) throw new Error(`topic handler ${h.name} added after the consumers started: add it before the app is ready`)
    if (names.has(h.name)) throw new Error(`two topic handlers are named ${h.name}`)
    app.events.declare(h.topic) // the producer validates against the same declaration
    names.add(h.name)
    if (handlerRoles(h).some((r) => roles.has(r))) list.push(h)
  }
  const addTopic = (topic: Topic) => {
    if (started) throw new Error(`topic ${topic.name} added after the consumers started: add it before the app is ready`)
    app.events.declare(topic)
    const relay = relayOf(topic)
    if (relay) add(relay)
  }
  for (const h of await loadHandlers(dir)) add(h)
  for (const topic of [...Object.values(catalogue), ...opts.topics ?? []]) addTopic(topic)
  for (const h of opts.handlers ?? []) add(h)

  const topics = () => [...new Set(list.flatMap((h) => [h.topic.name, `${h.topic.name}.dlq`]))]
  const events = new EventEmitter<HandlerEvents>()
  events.setMaxListeners(0)
  const stats: PipelineStats = { batches: 0, records: 0, parsed: 0, handled: new Map() }
  const countsOf = (h: TopicHandler): HandledCounts => {
    let counts = stats.handled.get(h.name)
    if (!counts) stats.handled.set(h.name, counts = { topic: h.topic.name, handler: h.name, ok: 0, deadLetter: 0 })
    return counts
  }
  /** Counts a record a handler finished with; the event is made only for those listening (tests). */
  const finished = (h: TopicHandler, counts: HandledCounts, record: BusRecord, outcome: HandledRecord['outcome']) => {
    if (outcome === 'ok') counts.ok++
    else counts.deadLetter++
    if (events.listenerCount('handled') > 0) events.emit('handled', { handler: h.name, topic: record.topic, partition: record.partition, offset: record.offset, epoch: record.epoch, outcome })
  }
  app.decorate('topicHandlers', { list, add, addTopic, topics, events, stats })

  const consumers: Consumer[] = []
  let closing = false
  // ends the waits between retries at once when the app closes (a long backoff must not hold close)
  const closed = new AbortController()

  async function deadLetter (handler: string, record: BusRecord, reason: string, log: FastifyBaseLogger, control: BatchControl, delays?: readonly number[]) {
    const letter: DeadLetter = { reason, handler, topic: record.topic, partition: record.partition, offset: record.offset, failedAt: new Date().toISOString(), payload: record.value.toString('utf8') }
    log.warn({ reason }, 'event sent to the dead-letter queue')
    for (let attempt = 1; ; attempt++) {
      if (closing || control.revoked) throw new Abandoned(`not dead-lettered (${reason}): left in the log`)
      try {
        await app.bus.produce(`${record.topic}.dlq`, record.key, JSON.stringify(letter))
        return
      } catch (err) {
        log.error({ err }, 'could not write to the dead-letter queue; retrying')
        await pause(attempt, control, delays)
      }
    }
  }

  /** Waits before a retry, keeping the group membership; throws once the partition is gone. */
  async function pause (attempt: number, control: BatchControl, delays?: readonly number[]) {
    await wait(backoff(attempt, delays), undefined, { signal: closed.signal }).catch(() => {})
    if (closing || control.revoked) throw new Abandoned('stopped while retrying')
    await control.heartbeat()
  }

  /** Runs one handler over a batch of valid events. Resolves when every event is handled or dead-lettered. */
  function runner (handler: TopicHandler, declared: DeclaredTopic) {
    const maxAttempts = handler.maxAttempts ?? 5
    const delays = handler.backoffMs?.length ? handler.backoffMs : BACKOFF_MS
    const baseLog = app.log.child({ handler: handler.name, topic: declared.topic.name })
    const counts = countsOf(handler)
    const handled = (record: BusRecord, outcome: HandledRecord['outcome']) => finished(handler, counts, record, outcome)
    const batchCtx: BatchContext = { app, log: baseLog }

    /** One event, retried with backoff; dead-lettered after maxAttempts non-transient failures. */
    async function one (item: TopicEvent, control: BatchControl) {
      const ctx = new RecordContext(app, item, baseLog)
      for (let attempt = 1; ; attempt++) {
        if (closing || control.revoked) throw new Abandoned('stopped')
        try {
          if (handler.handle) await handler.handle(item.event, ctx)
          else await handler.handleBatch!([item], batchCtx)
          handled(item.record, 'ok')
          return
        } catch (err) {
          if (closing || control.revoked) throw new Abandoned('stopped')
          if (!isTransient(err) && attempt >= maxAttempts) {
            await deadLetter(handler.name, item.record, `failed ${attempt} times: ${(err as Error).message}`, ctx.log, control, delays)
            handled(item.record, 'dead-letter')
            return
          }
          ctx.log[attempt === 1 ? 'warn' : 'error']({ err, attempt }, 'topic handler failed; retrying')
          await pause(attempt, control, delays)
        }
      }
    }

    return async (items: TopicEvent[], control: BatchControl) => {
      if (items.length === 0) return
      if (handler.handleBatch && items.length > 1) {
        // The whole batch at once; transient failures (a service down) retry it whole, anything
        // else falls back to one event at a time so that only the poison one is dead-lettered.
        for (let attempt = 1; ; attempt++) {
          if (closing || control.revoked) throw new Abandoned('stopped')
          try {
            await handler.handleBatch(items, batchCtx)
            for (const item of items) handled(item.record, 'ok')
            return
          } catch (err) {
            if (closing || control.revoked) throw new Abandoned('stopped')
            if (!isTransient(err)) {
              baseLog.warn({ err, records: items.length }, 'batch failed; handling its events one by one')
              break
            }
            baseLog[attempt === 1 ? 'warn' : 'error']({ err, attempt }, 'topic handler failed on a batch; retrying')
            await pause(attempt, control, delays)
          }
        }
      }
      for (const item of items) await one(item, control)
    }
  }

  /** The one consumer of a topic and mode: parse and validate once, then every handler. */
  function pipeline (declared: DeclaredTopic, handlers: TopicHandler[]) {
    const runners = handlers.map((h) => runner(h, declared))
    const handlerNames = handlers.map((h) => h.name).join(',')
    const log = app.log.child({ topic: declared.topic.name, handlers: handlerNames })
    return async (records: BusRecord[], control: BatchControl) => {
      stats.batches++
      stats.records += records.length
      const valid: TopicEvent[] = []
      for (const record of records) {
        let event: unknown
        let reason: string | undefined
        try {
          event = JSON.parse(record.value.toString('utf8'))
          stats.parsed++
          if (!declared.check.Check(event)) reason = `schema: ${schemaError(declared.check, event)}`
        } catch {
          reason = 'invalid JSON'
        }
        if (reason === undefined) {
          valid.push({ event, record, position: { epoch: record.epoch, offset: record.offset } })
          continue
        }
        // Invalid for every handler alike: one dead letter, before its valid neighbours are handled.
        try {
          await deadLetter(handlerNames, record, reason, log.child({ partition: record.partition, offset: record.offset }), control)
        } catch (err) {
          if (err instanceof Abandoned) throw err
        }
        for (const h of handlers) finished(h, countsOf(h), record, 'dead-letter')
      }
      await Promise.all(runners.map((run) => run(valid, control)))
    }
  }

  const lingerOf = (handlers: TopicHandler[]) => {
    const asked = handlers.flatMap((h) => h.group && h.lingerMs !== undefined ? [typeof h.lingerMs === 'function' ? h.lingerMs(app.config) : h.lingerMs] : [])
    return asked.length ? { lingerMs: Math.max(...asked) } : {}
  }

  app.addHook('onReady', async function startTopicHandlers () {
    started = true
    const where = app.bus.kind === 'kafka' ? `Kafka at ${app.config.KAFKA_BROKERS}` : 'the embedded log'
    // the topics this instance reads, and those an API instance produces to
    const used = [...new Set([...topics(), ...roles.has('api') ? Object.values(catalogue).map((t) => t.name) : []])]
    const step = startUpSteps(app.log, app.config.PLUGIN_TIMEOUT_MS)
    await step(`${where}: creating topics`, app.bus.ensureTopics(used))
    // best effort: a producer that could not get ready now connects on the first post instead
    if (app.bus.prepare) await step(`${where}: connecting the producer`, app.bus.prepare(used)).catch((err: Error) => app.log.warn({ err }, 'the producer is not ready yet; the first post will connect it'))
    // One consumer per delivery mode, reading every topic that has handlers in that mode (one
    // fetch loop, one group membership, one heartbeat each): records of a topic go to its pipeline.
    // A message stream (a positioned topic: `messages`) is hot: it gets a consumer of its own per
    // mode, so its fetches carry only its partitions. The other topics of a mode are quiet and
    // share one consumer (one fetch loop and one heartbeat for all of them when idle). A handler
    // that names a `group` gets a consumer of its own: its retries hold no one else's batches.
    const lanes = new Map<string, { mode: DeliveryMode, byTopic: Map<string, TopicHandler[]> }>()
    for (const h of list) {
      const lane = h.group ? `${consumerName(h.topic, h.mode)}.${h.group}` : consumerName(h.topic, h.mode)
      const entry = lanes.get(lane) ?? { mode: h.mode, byTopic: new Map<string, TopicHandler[]>() }
      entry.byTopic.set(h.topic.name, [...entry.byTopic.get(h.topic.name) ?? [], h])
      lanes.set(lane, entry)
    }
    // The consumers join their groups side by side: a join can wait for a rebalance (a broker back
    // from a restart holds one for the members it remembers), and one after another such waits add up.
    // The fanout's consumer of `messages` may read only the partitions its sockets need (fanout-reads.ts).
    const reads = app.hasDecorator('fanoutReads') && app.fanoutReads.selective ? app.fanoutReads : undefined
    await Promise.all([...lanes].map(async ([lane, { mode, byTopic }]) => {
      const pipelines = new Map([...byTopic].map(([topic, handlers]) => [topic, pipeline(app.events.topic(topic)!, handlers)]))
      const selective = reads !== undefined && lane === consumerName(catalogue.messages, 'broadcast')
      const consumer = await step(`${where}: ${lane} consumer joining its group for ${[...byTopic.keys()].join(', ')}`, app.bus.consume({
        name: lane,
        topic: [...byTopic.keys()],
        mode,
        handleBatch: (records, control) => pipelines.get(records[0].topic)!(records, control),
        // /ready fails already; sockets fed by a dead broadcast consumer would stay open and
        // silently receive nothing: close them so clients reconnect to another instance
        onDead: (err) => {
          events.emit('dead', { mode, err })
          if (mode === 'broadcast' && roles.has('fanout')) app.fanout.hub.stopDelivering(`this instance stopped receiving events (${err.message})`)
        },
        selective,
        // a group's handlers may ask for a longer linger (the longest asked wins)
        ...lingerOf([...byTopic.values()].flat())
      }))
      consumers.push(consumer)
      if (selective) reads.attach(consumer)
    }))
    app.log.info({ roles: [...roles], consumers: [...lanes].map(([lane, { byTopic }]) => `${lane}: ${[...byTopic].map(([t, hs]) => `${t} → ${hs.map((h) => h.name).join(', ')}`).join('; ')}`) }, 'topic handlers subscribed')
  })

  app.addHook('onClose', async () => {
    closing = true
    closed.abort()
    await Promise.all(consumers.map((c) => c.stop()))
  })
}, { name: 'topic-handlers', dependencies: ['bus', 'events'] })
