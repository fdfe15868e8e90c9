// The webhook relay on the embedded bus (the app as `npm start` runs it without services).
import t from 'tap'
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { build } from '../../../test/helper.ts'
import webhookRelay from '../index.ts'
import { webhookRelaySuite } from './suite.ts'

webhookRelaySuite(t, (t, relay) => build(t, {}, {}, fp(async (app: FastifyInstance) => { await app.register(webhookRelay, relay) })))
