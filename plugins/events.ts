// The write path: one event, validated against its topic's schema, produced to the log. Accepted
// means the log has it. The topics known here are the catalogue's (schemas/topics.ts) plus those
// that plugins declare for their own handlers.
import { EventEmitter } from 'node:events'
import fp from 'fastify-plugin'
import type { Static, TSchema } from '@sinclair/typebox'
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler'
import { topics as catalogue, type BuiltInTopics, type Topic } from '../schemas/topics.ts'
import type { Position } from '../schemas/message.ts'

type TopicEvents = { [K in keyof BuiltInTopics as BuiltInTopics[K]['name']]: Static<BuiltInTopics[K]['schema']> }

/** A declared topic with its schema compiled once (producer and consumers share the check). */
export interface DeclaredTopic { topic: Topic, check: TypeCheck<TSchema> }

export interface Events {
  /** Produces one event; resolves with its position or rejects with a 503 naming the log. */
  produce<T extends keyof TopicEvents> (topic: T, key: string, event: TopicEvents[T]): Promise<Position>
  produce (topic: string, key: string, event: unknown): Promise<Position>
  /** Adds a topic to the catalogue (idempotent for the same declaration; a second, different one with the same name throws). */
  declare (topic: Topic): DeclaredTopic
  /** A declared topic by name. */
  topic (name: string): DeclaredTopic | undefined
  /** 'produced' after every attempt to produce (metrics count them). */
  emitter: EventEmitter<{ produced: [ProducedEvent] }>
}

export interface ProducedEvent { topic: string, outcome: 'ok' | 'failed' }

declare module 'fastify' {
  interface FastifyInstance { events: Events }
}

/** The first schema error of an invalid event, as a short readable reason. */
export function schemaError (check: TypeCheck<TSchema>, event: unknown): string {
  const first = check.Errors(event).First()
  return first ? `${first.path || '/'} ${first.message}` : 'invalid event'
}

export default fp(async function events (app) {
  const declared = new Map<string, DeclaredTopic>()
  const declare = (topic: Topic): DeclaredTopic => {
    const known = declared.get(topic.name)
    if (known) {
      if (known.topic !== topic && known.topic.schema !== topic.schema) throw new Error(`topic ${topic.name} is declared twice with different schemas`)
      return known
    }
    const entry = { topic, check: TypeCompiler.Compile(topic.schema) }
    declared.set(topic.name, entry)
    return entry
  }
  for (const topic of Object.values(catalogue)) declare(topic)
  const emitter = new EventEmitter<{ produced: [ProducedEvent] }>()
  app.decorate('events', {
    emitter,
    declare,
    topic: (name: string) => declared.get(name),
    async produce (topic: string, key: string, event: unknown): Promise<Position> {
      const entry = declared.get(topic)
      if (entry && !entry.check.Check(event)) throw new Error(`refusing to produce an invalid ${topic} event: ${schemaError(entry.check, event)}`)
      try {
        const { offset, epoch } = await app.bus.produce(topic, key, JSON.stringify(event))
        emitter.emit('produced', { topic, outcome: 'ok' })
        return { epoch, offset }
      } catch (err) {
        emitter.emit('produced', { topic, outcome: 'failed' })
        app.log.error({ err, topic }, 'produce failed')
        // A broker that dies or stalls mid-request may still have appended it (docs/known-limits.md)
        throw app.httpErrors.serviceUnavailable(`event log unavailable (${app.bus.kind}): the log did not confirm the request, retry later`)
      }
    }
  } as Events)
}, { name: 'events', dependencies: ['bus', 'errors'] })
