// The relay a catalogue entry with `fanout` gets instead of a handler file: a broadcast handler (one
// consumer group per instance) that delivers each client event of the topic to this instance's
// subscribers of the channel its `fanout` names. The registry (plugins/topic-handlers.ts) adds one
// per such entry, built in or a plugin's (`app.topicHandlers.addTopic`).
import type { FastifyInstance } from 'fastify'
import type { Position } from '../schemas/message.ts'
import type { Topic } from '../schemas/topics.ts'

interface ClientEvent { type: string, data: unknown }

/** A topic handler as the registry runs it (plugins/topic-handlers.ts `TopicHandler`), in broadcast mode. */
export interface Relay {
  name: string
  topic: Topic
  mode: 'broadcast'
  handle (event: unknown, ctx: { app: FastifyInstance, position: Position }): Promise<void>
}

/** The relay's name: `<topic>-fanout`, as the handler files it replaces were named (logs, metrics, dead letters). */
export const relayName = (topic: Topic) => `${topic.name}-fanout`

/** The broadcast handler that relays a topic's client events to sockets; undefined when it declares no `fanout`. */
export function relayOf (topic: Topic): Relay | undefined {
  const { fanout } = topic
  if (!fanout) return undefined
  const clientEvents = new Set<string>(topic.clientEvents)
  const channelOf = typeof fanout === 'function'
    ? fanout
    : (event: ClientEvent) => (fanout as Record<string, (event: ClientEvent) => string>)[event.type](event)
  return {
    name: relayName(topic),
    topic,
    mode: 'broadcast',
    async handle (value, { app, position }) {
      const event = value as ClientEvent
      if (!clientEvents.has(event.type)) return // an internal event of a client-visible topic
      app.fanout.publish(channelOf(event), event.type, event.data, topic.positioned ? position : undefined)
    }
  }
}
