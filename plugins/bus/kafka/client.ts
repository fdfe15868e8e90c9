// The kafkajs client one bus uses for all its connections, and what it tells kafkajs and the log:
// connection settings, where kafkajs's log lines go, topic names with this deployment's prefix,
// and the error a request gets when Kafka cannot be reached.
import type { FastifyBaseLogger } from 'fastify'
import { Kafka, logLevel, type ISocketFactory, type LogEntry, type SASLOptions } from 'kafkajs'
import { TransientError } from '../../external/errors.ts'
import type { BusOptions } from '../bus.ts'

export interface KafkaBusOptions extends BusOptions {
  brokers: string[]
  clientId: string
  logger: FastifyBaseLogger
  /** Under load, how long a produce waits for others to share its request (KAFKA_LINGER_MS; batching.ts). */
  lingerMs?: number
  /**
   * How long a busy shared consumer lets records gather at the broker before its next fetch
   * answers (KAFKA_CONSUME_LINGER_MS; kafkajs-patches.ts). Broadcast consumers never linger.
   */
  consumeLingerMs?: number
  /** Replaces kafkajs's socket factory (tests route connections through a proxy they can cut). */
  socketFactory?: ISocketFactory
  /** TLS to the brokers: true (system CAs) or the CA certificates to verify them with (KAFKA_SSL, KAFKA_SSL_CA_FILE). */
  ssl?: boolean | { ca: string }
  /** SASL authentication (KAFKA_SASL_*). */
  sasl?: SASLOptions
}

const RETRIED = new Set(['Connection', 'BrokerPool'])

export function createClient (options: KafkaBusOptions): Kafka {
  const { logger } = options
  function log ({ namespace, level, log: { message, timestamp: _t, logger: _l, ...extra } }: LogEntry) {
    // Said once per producer: we do limit retries on purpose (see producer.ts).
    if (message.startsWith('Limiting retries for the idempotent producer')) return
    const fields = { kafka: namespace, ...extra }
    // Connection errors are retried (and repeat for as long as an outage lasts): warnings.
    if (level === logLevel.ERROR && !RETRIED.has(namespace)) logger.error(fields, message)
    else if (level <= logLevel.WARN) logger.warn(fields, message)
    else logger.debug(fields, message)
  }
  return new Kafka({
    clientId: options.clientId,
    brokers: options.brokers,
    connectionTimeout: 1500,
    requestTimeout: 5000,
    retry: { initialRetryTime: 100, maxRetryTime: 2000, retries: 5 },
    ...(options.socketFactory ? { socketFactory: options.socketFactory } : {}),
    ...(options.ssl ? { ssl: options.ssl === true ? true : { ca: [options.ssl.ca] } } : {}),
    ...(options.sasl ? { sasl: options.sasl } : {}),
    logLevel: logLevel.WARN,
    logCreator: () => (entry: LogEntry) => log(entry)
  })
}

/** Logical topic names (the rest of switchboard) ↔ physical ones (in Kafka, with the deployment's prefix). */
export interface TopicNames {
  physical (topic: string): string
  logical (topic: string): string
}

export function topicNames (prefix: string): TopicNames {
  return {
    physical: (topic) => `${prefix}${topic}`,
    logical: (topic) => topic.startsWith(prefix) ? topic.slice(prefix.length) : topic
  }
}

/** The error of an operation that failed because Kafka is out of reach: a 503 for a request. */
export type Unavailable = (what: string, err: unknown) => TransientError

export function unavailableAt (brokers: string[]): Unavailable {
  const where = `Kafka at ${brokers.join(',')}`
  return (what, err) => new TransientError(`${where} unavailable: ${what} failed (${(err as Error)?.message ?? err})`, { cause: err })
}
