// The write path: one event, validated, produced to the log. Accepted means the log has it.
import { EventEmitter } from 'node:events'
import fp from 'fastify-plugin'
import type { Static, TSchema } from '@sinclair/typebox'
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler'
import { ChannelAccessChanged, MessageEvent, NotificationEvent, ReactionEvent, UserActivityEvent } from '../schemas/events.ts'
import type { Position } from '../schemas/message.ts'

/** The event schema of each built-in topic; producer and consumers validate against the same one. */
export const topicEvents = {
  messages: MessageEvent,
  reactions: ReactionEvent,
  notifications: NotificationEvent,
  'user-activity': UserActivityEvent,
  channels: ChannelAccessChanged
} satisfies Record<string, TSchema>

type TopicEvents = typeof topicEvents

export interface Events {
  /** Produces one event; resolves with its position or rejects with a 503 naming the log. */
  produce<T extends keyof TopicEvents> (topic: T, key: string, event: Static<TopicEvents[T]>): Promise<Position>
  produce (topic: string, key: string, event: unknown): Promise<Position>
  /** 'produced' after every attempt to produce (metrics count them). */
  emitter: EventEmitter<{ produced: [ProducedEvent] }>
}

export interface ProducedEvent { topic: string, outcome: 'ok' | 'failed' }

declare module 'fastify' {
  interface FastifyInstance { events: Events }
}

export default fp(async function events (app) {
  const checks = new Map<string, TypeCheck<TSchema>>(Object.entries(topicEvents).map(([topic, schema]) => [topic, TypeCompiler.Compile(schema)]))
  const emitter = new EventEmitter<{ produced: [ProducedEvent] }>()
  app.decorate('events', {
    emitter,
    async produce (topic: string, key: string, event: unknown): Promise<Position> {
      const check = checks.get(topic)
      if (check && !check.Check(event)) {
        const first = check.Errors(event).First()
        throw new Error(`refusing to produce an invalid ${topic} event: ${first?.path} ${first?.message}`)
      }
      try {
        const { offset, epoch } = await app.bus.produce(topic, key, JSON.stringify(event))
        emitter.emit('produced', { topic, outcome: 'ok' })
        return { epoch, offset }
      } catch (err) {
        emitter.emit('produced', { topic, outcome: 'failed' })
        app.log.error({ err, topic }, 'produce failed')
        throw app.httpErrors.serviceUnavailable(`event log unavailable (${app.bus.kind}): the request was not accepted, retry later`)
      }
    }
  } as Events)
}, { name: 'events', dependencies: ['bus', 'errors'] })
