// How a consumer of the bus is tuned in kafkajs: its session and heartbeats, how long an empty
// fetch waits at the broker, and the retries that restart it after a retriable failure, forever.
// The consumer itself (its join, epoch and run loop) is consumer.ts.
import type { FastifyBaseLogger } from 'fastify'
import type { Consumer as KafkaConsumer, Kafka } from 'kafkajs'

const SESSION_TIMEOUT_MS = 10_000
const HEARTBEAT_INTERVAL_MS = 1000
/** How long an empty fetch waits at the broker: well under the session timeout (heartbeats go between fetches). */
const IDLE_FETCH_WAIT_MS = 3000
/**
 * A selective consumer's: a fetch waiting at the broker does not carry a partition resumed
 * meanwhile, so this bounds how late the first records of a just-resumed partition can come when
 * the partitions read with it are idle (two idle fetches a second per broker instead of one in 3 s).
 */
const SELECTIVE_IDLE_FETCH_WAIT_MS = 500

export interface ConsumerSettings {
  /** A selective broadcast consumer (selective.ts): its empty fetches wait less. */
  selective: boolean
  /** True once the consumer is stopping: a crash then does not restart it. */
  stopping (): boolean
  log: FastifyBaseLogger
}

/** The kafkajs consumer of group `groupId`, with the bus's settings. */
export function groupConsumer (kafka: Kafka, groupId: string, { selective, stopping, log }: ConsumerSettings): KafkaConsumer {
  return kafka.consumer({
    groupId,
    sessionTimeout: SESSION_TIMEOUT_MS,
    heartbeatInterval: HEARTBEAT_INTERVAL_MS,
    rebalanceTimeout: 30_000,
    // A fetch answers as soon as one record arrives (minBytes 1); the wait only bounds an empty
    // fetch, so a long one costs no latency and keeps an idle instance idle. (A busy shared
    // consumer lingers instead: `lingerConsumerGroup` in consumer.ts.)
    maxWaitTimeInMs: selective ? SELECTIVE_IDLE_FETCH_WAIT_MS : IDLE_FETCH_WAIT_MS,
    minBytes: 1,
    allowAutoTopicCreation: false,
    // Retriable failures (a broker restart, a lost coordinator) restart the consumer, forever.
    retry: {
      retries: 8,
      initialRetryTime: 200,
      maxRetryTime: 3000,
      restartOnFailure: async (err) => {
        if (stopping()) return false
        log.error({ err }, 'Kafka consumer crashed; restarting')
        return true
      }
    }
  })
}
