// Fills channels with messages by producing `message.created` events to the log in bulk, as the
// API would (same topic, key, partitioner and event schema), without going through HTTP: a
// benchmark can grow a channel to 100,000 messages in seconds. Needs Kafka (KAFKA_BROKERS).
import { ObjectId } from 'mongodb'
import { pino } from 'pino'
import { TypeCompiler } from '@sinclair/typebox/compiler'
import { loadConfig } from '../../config.ts'
import { createKafkaBus } from '../../plugins/bus/kafka/index.ts'
import type { EventBus } from '../../plugins/bus/index.ts'
import { MessageStreamEvent, type MessageEvent } from '../../schemas/events.ts'

/** Produces in flight at once: the bus packs concurrent produces into requests of up to 500 records. */
const IN_FLIGHT = 5000
const valid = TypeCompiler.Compile(MessageStreamEvent)

export interface Fill {
  channelId: string
  count: number
  /** the content of message i (0-based) of this fill */
  content (i: number): string
}

export interface Filler {
  /** Produces every fill's messages (channels interleaved); resolves once the log has them all. */
  fill (fills: Fill[], senderId: string, onProgress?: (produced: number) => void): Promise<number>
  close (): Promise<void>
}

/** A producer on the environment's Kafka and topic prefix: the same log the server under test reads. */
export function createFiller (env: NodeJS.ProcessEnv = process.env): Filler {
  const config = loadConfig(env, { LOG_LEVEL: 'warn' })
  if (!config.KAFKA_BROKERS) throw new Error('filling channels in bulk produces to Kafka: set KAFKA_BROKERS (e.g. 127.0.0.1:9092)')
  const bus: EventBus = createKafkaBus({
    topicPrefix: config.KAFKA_TOPIC_PREFIX,
    partitions: config.KAFKA_PARTITIONS,
    instanceId: `bench-fill-${process.pid}`,
    brokers: config.KAFKA_BROKERS.split(',').map((b) => b.trim()).filter(Boolean),
    clientId: `${config.KAFKA_CLIENT_ID}-bench-fill`,
    logger: pino({ level: 'error' }),
    lingerMs: 5
  })
  return {
    async fill (fills, senderId, onProgress) {
      const total = fills.reduce((n, f) => n + f.count, 0)
      const longest = Math.max(0, ...fills.map((f) => f.count))
      let produced = 0
      let inFlight: Array<Promise<unknown>> = []
      // round robin over the channels, in order within each: each channel's messages keep their order (one key, one partition)
      for (let i = 0; i < longest; i++) {
        for (const f of fills) {
          if (i >= f.count) continue
          const createdAt = new Date().toISOString()
          const event: MessageEvent = { v: 1, type: 'message.created', channelId: f.channelId, at: createdAt, data: { id: new ObjectId().toHexString(), channelId: f.channelId, senderId, senderName: senderId, content: f.content(i), createdAt } }
          if (i === 0 && f === fills[0] && !valid.Check(event)) throw new Error('bulk fill: the event does not match the messages topic schema')
          inFlight.push(bus.produce('messages', f.channelId, JSON.stringify(event)).then(() => { produced++ }))
          if (inFlight.length >= IN_FLIGHT) {
            await Promise.all(inFlight)
            inFlight = []
            onProgress?.(produced)
          }
        }
      }
      await Promise.all(inFlight)
      onProgress?.(produced)
      if (produced !== total) throw new Error(`bulk fill: ${produced} of ${total} produced`)
      return produced
    },
    close: () => bus.close()
  }
}
