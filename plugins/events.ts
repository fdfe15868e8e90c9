// The write path: one event, validated, produced to the log. Accepted means the log has it.
import fp from 'fastify-plugin'
import type { Static, TSchema } from '@sinclair/typebox'
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler'
import { MessageEvent } from '../schemas/events.ts'
import type { Position } from '../schemas/message.ts'

/** The event schema of each built-in topic; producer and consumers validate against the same one. */
export const topicEvents = {
  messages: MessageEvent
} satisfies Record<string, TSchema>

type TopicEvents = typeof topicEvents

export interface Events {
  /** Produces one event; resolves with its position or rejects with a 503 naming the log. */
  produce<T extends keyof TopicEvents> (topic: T, key: string, event: Static<TopicEvents[T]>): Promise<Position>
  produce (topic: string, key: string, event: unknown): Promise<Position>
}

declare module 'fastify' {
  interface FastifyInstance { events: Events }
}

export default fp(async function events (app) {
  const checks = new Map<string, TypeCheck<TSchema>>(Object.entries(topicEvents).map(([topic, schema]) => [topic, TypeCompiler.Compile(schema)]))
  app.decorate('events', {
    async produce (topic: string, key: string, event: unknown): Promise<Position> {
      const check = checks.get(topic)
      if (check && !check.Check(event)) {
        const first = check.Errors(event).First()
        throw new Error(`refusing to produce an invalid ${topic} event: ${first?.path} ${first?.message}`)
      }
      try {
        const { offset, epoch } = await app.bus.produce(topic, key, JSON.stringify(event))
        return { epoch, offset }
      } catch (err) {
        app.log.error({ err, topic }, 'produce failed')
        throw app.httpErrors.serviceUnavailable(`event log unavailable (${app.bus.kind}): the request was not accepted, retry later`)
      }
    }
  } as Events)
}, { name: 'events', dependencies: ['bus', 'errors'] })
