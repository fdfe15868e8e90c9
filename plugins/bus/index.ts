import { readFileSync } from 'node:fs'
import fp from 'fastify-plugin'
import type { EventBus } from './bus.ts'
import { createEmbeddedBus } from './embedded.ts'

export type * from './bus.ts'

declare module 'fastify' {
  interface FastifyInstance { bus: EventBus }
}

export interface BusPluginOptions { bus?: EventBus }

/** The event log: Kafka when KAFKA_BROKERS is set, the embedded log otherwise. Never a silent fallback. */
export default fp<BusPluginOptions>(async function bus (app, opts) {
  const { config } = app
  const options = { topicPrefix: config.KAFKA_TOPIC_PREFIX, partitions: config.KAFKA_PARTITIONS, instanceId: app.instanceId }
  let bus: EventBus
  if (opts.bus) {
    bus = opts.bus
  } else if (config.KAFKA_BROKERS) {
    const { createKafkaBus } = await import('./kafka/index.js') // .js: tsc rewrites .ts in static imports only; tsx and tsc both resolve .js to the .ts source
    bus = createKafkaBus({
      ...options,
      brokers: config.KAFKA_BROKERS.split(',').map((b) => b.trim()).filter(Boolean),
      clientId: config.KAFKA_CLIENT_ID,
      ssl: config.KAFKA_SSL && (config.KAFKA_SSL_CA_FILE ? { ca: readFileSync(config.KAFKA_SSL_CA_FILE, 'utf8') } : true),
      sasl: config.KAFKA_SASL_MECHANISM ? { mechanism: config.KAFKA_SASL_MECHANISM, username: config.KAFKA_SASL_USERNAME, password: config.KAFKA_SASL_PASSWORD } : undefined,
      lingerMs: config.KAFKA_LINGER_MS,
      consumeLingerMs: config.KAFKA_CONSUME_LINGER_MS,
      logger: app.log.child({ component: 'kafka' })
    })
  } else {
    bus = createEmbeddedBus(options)
  }
  app.log.info({ bus: bus.kind }, `event bus: ${bus.kind === 'kafka' ? `Kafka at ${config.KAFKA_BROKERS}` : 'embedded in-process log (set KAFKA_BROKERS for Kafka)'}`)
  app.decorate('bus', bus)
  app.readiness.add(bus.kind === 'kafka' ? 'kafka' : 'bus', () => bus.ping())
  // Consumers stop in the registry's onClose (registered later, so it runs first); then the bus closes.
  if (!opts.bus) app.addHook('onClose', async () => { await bus.close() })
}, { name: 'bus', dependencies: ['readiness'] })
