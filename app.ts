// The application as one Fastify plugin: concerns first (each a plugin), then topic handlers, then routes.
import { randomUUID } from 'node:crypto'
import type { FastifyInstance, FastifyServerOptions } from 'fastify'
import fp from 'fastify-plugin'
import { TypeBoxValidatorCompiler } from '@fastify/type-provider-typebox'
import type { Config } from './config.ts'
import errors from './plugins/errors.ts'
import readiness from './plugins/readiness.ts'
import auth from './plugins/auth.ts'
import bus, { type EventBus } from './plugins/bus/index.ts'
import cache, { type MessageCache } from './plugins/cache/index.ts'
import store, { type MessageStore } from './plugins/store/index.ts'
import events from './plugins/events.ts'
import fanout from './plugins/fanout.ts'
import topicHandlers, { type TopicHandler } from './plugins/topic-handlers.ts'
import health from './routes/health.ts'
import messages from './routes/messages.ts'
import history from './routes/history.ts'

declare module 'fastify' {
  interface FastifyInstance {
    config: Config
    /** Names this instance: broadcast consumer groups, logs. */
    instanceId: string
  }
}

export interface AppOptions {
  config: Config
  /** Injected implementations (tests, embedding); injected clients are left open on close. */
  bus?: EventBus
  cache?: MessageCache
  store?: MessageStore
  /** Extra topic handlers besides consumers/. */
  handlers?: TopicHandler[]
}

/** Options for the Fastify instance that hosts the app (server.ts and tests share them). */
export function serverOptions (config: Config): FastifyServerOptions {
  return {
    bodyLimit: config.BODY_LIMIT,
    // requests carry a correlation id; honour a caller's x-request-id
    requestIdHeader: 'x-request-id',
    genReqId: () => randomUUID(),
    // __proto__ and constructor.prototype keys in JSON bodies are rejected with a 400
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    forceCloseConnections: true
  }
}

async function app (fastify: FastifyInstance, opts: AppOptions) {
  fastify.decorate('config', opts.config)
  fastify.decorate('instanceId', opts.config.INSTANCE_ID || randomUUID().slice(0, 8))
  // Bodies are checked as sent (no type coercion); params and query strings are converted.
  fastify.setValidatorCompiler(TypeBoxValidatorCompiler)

  await fastify.register(errors)
  await fastify.register(readiness)
  await fastify.register(auth)
  await fastify.register(bus, { bus: opts.bus })
  await fastify.register(cache, { cache: opts.cache })
  await fastify.register(store, { store: opts.store })
  await fastify.register(events)
  await fastify.register(fanout)
  await fastify.register(topicHandlers, { handlers: opts.handlers })

  await fastify.register(health)
  await fastify.register(messages)
  await fastify.register(history)
}

export default fp(app, { name: 'switchboard' })
