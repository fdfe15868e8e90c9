// The webhook relay on real Kafka (with Redis and MongoDB behind the store, cache and recovery log):
// its consumer group is a Kafka group of its own.
import t from 'tap'
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { buildReal, cleanupReal, realNames, requireServices } from '../../../test/services.ts'
import webhookRelay from '../index.ts'
import { webhookRelaySuite } from './suite.ts'

if (await requireServices(t, 'kafka', 'redis', 'mongo')) {
  webhookRelaySuite(t, async (t, relay) => {
    const names = realNames('webhook')
    t.teardown(() => cleanupReal(names))
    return buildReal(t, { names }, {}, fp(async (app: FastifyInstance) => { await app.register(webhookRelay, relay) }))
  })
}
