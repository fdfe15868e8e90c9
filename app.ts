// The application as one Fastify plugin: concerns first (each a plugin), then topic handlers, then routes.
import { randomUUID } from 'node:crypto'
import type { Server } from 'node:http'
import type { FastifyHttpOptions, FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { TypeBoxValidatorCompiler } from '@fastify/type-provider-typebox'
import { parseRoles, type Config, type Role } from './config.ts'
import errors from './plugins/external/errors.ts'
import readiness from './plugins/external/readiness.ts'
import auth from './plugins/auth.ts'
import bus, { type EventBus } from './plugins/bus/index.ts'
import cache, { type MessageCache } from './plugins/cache/index.ts'
import store, { type MessageStore } from './plugins/store/index.ts'
import events from './plugins/events.ts'
import fanout from './plugins/fanout.ts'
import topicHandlers, { type TopicHandler } from './plugins/topic-handlers.ts'
import broadcastBehind from './plugins/broadcast-behind.ts'
import type { Topic } from './schemas/topics.ts'
import redis from './plugins/external/redis.ts'
import loadShedding from './plugins/external/load-shedding.ts'
import mongo from './plugins/external/mongo.ts'
import rateLimit from './plugins/external/rate-limit.ts'
import channels from './plugins/channels/index.ts'
import moderation from './plugins/moderation/index.ts'
import nonces from './plugins/nonces/index.ts'
import recentMessages, { type RecentMessageStore } from './plugins/recent-messages/index.ts'
import posting from './plugins/posting.ts'
import messageLookup from './plugins/message-lookup.ts'
import pins, { type PinReservations, type PinStore } from './plugins/pins/index.ts'
import readState from './plugins/read-state/index.ts'
import fanoutAccess from './plugins/fanout-access.ts'
import docs from './plugins/external/docs.ts'
import metrics from './plugins/external/metrics.ts'
import recovery, { type RecoveryLog } from './plugins/recovery/index.ts'
import fanoutReads from './plugins/fanout-reads.ts'
import presence, { type PresenceStore } from './plugins/presence/index.ts'
import personalChannel from './plugins/personal-channel.ts'
import connections, { type ConnectionRegistry } from './plugins/connections/index.ts'
import health from './routes/health.ts'
import messages from './routes/messages.ts'
import history from './routes/history.ts'
import channelRoutes from './routes/channels.ts'
import messageEdits from './routes/message-edits.ts'
import reactions from './routes/reactions.ts'
import pinRoutes from './routes/pins.ts'
import readStateRoutes from './routes/read-state.ts'
import threads from './routes/threads.ts'
import demo from './routes/demo.ts'
import userActivity from './routes/user-activity.ts'
import users from './routes/users.ts'
import serverApi from './routes/server.ts'
import adminApi from './routes/admin.ts'
import adminStats from './routes/admin-stats.ts'
import apiKeys from './plugins/api-keys.ts'
import httpConnections from './plugins/http-connections.ts'

declare module 'fastify' {
  interface FastifyInstance {
    config: Config
    /** Names this instance: broadcast consumer groups, logs. */
    instanceId: string
    /** What this process runs (config ROLES). */
    roles: ReadonlySet<Role>
  }
}

export interface AppOptions {
  config: Config
  /** Injected implementations (tests, embedding); injected clients are left open on close. */
  bus?: EventBus
  cache?: MessageCache
  store?: MessageStore
  /** Shared recovery log and presence store (tests share one between apps to model instances). */
  recoveryLog?: RecoveryLog
  presence?: PresenceStore
  /** Connection registry (leases, user status); tests share one between apps to model instances. */
  connections?: ConnectionRegistry
  /** Recently posted and deleted messages; tests share one between apps to model instances. */
  recentMessages?: RecentMessageStore
  /** Pins and their places (tests share the places between apps to model instances). */
  pinStore?: PinStore
  pinReservations?: PinReservations
  /** Extra topic handlers besides consumers/. */
  handlers?: TopicHandler[]
  /** Extra catalogue entries besides schemas/topics.ts (declared; relayed to sockets when they have `fanout`). */
  topics?: Topic[]
}

/** Options for the Fastify instance that hosts the app (server.ts and tests share them). */
export function serverOptions (config: Config): FastifyHttpOptions<Server> {
  return {
    bodyLimit: config.BODY_LIMIT,
    // start-up steps may wait on Kafka, Redis and MongoDB; what they wait for is logged (plugins/external/start-up.ts)
    pluginTimeout: config.PLUGIN_TIMEOUT_MS,
    // requests carry a correlation id; honour a caller's x-request-id
    requestIdHeader: 'x-request-id',
    genReqId: () => randomUUID(),
    // __proto__ and constructor.prototype keys in JSON bodies are rejected with a 400
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    // on close: idle keep-alive connections end at once, requests in flight are answered first
    forceCloseConnections: 'idle',
    // Idle sockets are open files (plugins/http-connections.ts caps them): a request must arrive
    // whole within 30 s, its headers within 10 s of the connection (or of the previous response),
    // and a socket silent for 2 minutes is closed (longer than the 72 s keep-alive, which a load
    // balancer's pool relies on). Upgraded WebSockets are out of these: ws clears their timeouts.
    requestTimeout: 30_000,
    connectionTimeout: 120_000,
    http: { headersTimeout: 10_000, connectionsCheckingInterval: 5_000 },
    // path parameters well past the longest id the schemas allow (channel ids: 128), so an id over
    // the schema's limit gets its 400; only a parameter over 1,024 characters is a 414
    routerOptions: { maxParamLength: 1024 }
  }
}

async function app (fastify: FastifyInstance, opts: AppOptions) {
  fastify.decorate('config', opts.config)
  fastify.decorate('instanceId', opts.config.INSTANCE_ID || randomUUID().slice(0, 8))
  fastify.decorate('roles', parseRoles(opts.config.ROLES))
  // Bodies are checked as sent (no type coercion); params and query strings are converted.
  fastify.setValidatorCompiler(TypeBoxValidatorCompiler)

  // First: swagger's onRoute hook must see every route registered after it.
  await fastify.register(docs)
  await fastify.register(errors)
  await fastify.register(readiness)
  // before every route: a saturated instance refuses requests instead of queueing them
  await fastify.register(loadShedding)
  await fastify.register(auth)
  await fastify.register(apiKeys)
  // one client per backing service, shared by every plugin that needs it
  await fastify.register(redis)
  await fastify.register(mongo)
  // after auth (the limit counts per user), before every route it limits
  await fastify.register(rateLimit)

  // The three contracts: event log, cache, store (real or embedded).
  await fastify.register(bus, { bus: opts.bus })
  await fastify.register(cache, { cache: opts.cache })
  await fastify.register(store, { store: opts.store })
  await fastify.register(events)

  // The fanout and what plugs into its hooks (WebSocket servers only where the `fanout` role runs).
  await fastify.register(fanout, { serve: fastify.roles.has('fanout') })
  // idle HTTP sockets capped within the open-file reserve the WebSocket cap leaves
  await fastify.register(httpConnections)
  await fastify.register(channels)
  await fastify.register(fanoutAccess)
  await fastify.register(fanoutReads)
  await fastify.register(recovery, { recoveryLog: opts.recoveryLog })
  await fastify.register(presence, { presence: opts.presence })
  await fastify.register(personalChannel)
  await fastify.register(connections, { registry: opts.connections })

  await fastify.register(moderation)
  await fastify.register(nonces)
  await fastify.register(recentMessages, { store: opts.recentMessages })
  await fastify.register(posting)
  await fastify.register(messageLookup)
  await fastify.register(pins, { store: opts.pinStore, reservations: opts.pinReservations })
  await fastify.register(readState)
  await fastify.register(topicHandlers, { handlers: opts.handlers, topics: opts.topics })
  await fastify.register(broadcastBehind)
  await fastify.register(metrics)

  // /health, /ready, /metrics and /docs in every role; the HTTP API where the `api` role runs.
  await fastify.register(health)
  if (fastify.roles.has('api')) {
    await fastify.register(demo)
    await fastify.register(messages)
    await fastify.register(messageEdits)
    await fastify.register(reactions)
    await fastify.register(pinRoutes)
    await fastify.register(readStateRoutes)
    await fastify.register(threads)
    await fastify.register(history)
    await fastify.register(channelRoutes)
    await fastify.register(userActivity)
    await fastify.register(users)
    await fastify.register(serverApi)
    await fastify.register(adminApi)
    await fastify.register(adminStats)
  }
}

export default fp(app, { name: 'switchboard' })
