// The process's one Redis connection (the @fastify/redis shape): the cache, the recovery log,
// presence, nonces and rate-limit counters all share `app.redis`, with one readiness check and one
// mapping of its failures (`redisCall`). `app.redis` is null without REDIS_URL (each concern then
// keeps its state in process). Keys are prefixed by the client (REDIS_KEY_PREFIX), never by hand.
import type { FastifyBaseLogger } from 'fastify'
import fp from 'fastify-plugin'
import { Redis } from 'ioredis'
import { TransientError } from './errors.ts'
import { startUpSteps } from './start-up.ts'

declare module 'fastify' {
  interface FastifyInstance {
    /** Keys are prefixed with REDIS_KEY_PREFIX; null when REDIS_URL is not set. */
    redis: Redis | null
  }
}

/** How long a command waits for a connection (or an answer) before it fails with a 503-style error. */
export const REDIS_TIMEOUT_MS = 2000

/** A client with switchboard's options: fail fast while disconnected, reconnect in the background. */
export function createRedisClient (url: string, options: { keyPrefix?: string, connectionName?: string, logger?: FastifyBaseLogger } = {}): Redis {
  const client = new Redis(url, {
    keyPrefix: options.keyPrefix,
    connectionName: options.connectionName,
    lazyConnect: true,
    // a command while disconnected fails at once (the caller answers 503 or retries), never queues
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: REDIS_TIMEOUT_MS,
    commandTimeout: REDIS_TIMEOUT_MS,
    // reconnect by itself, forever, at most a second apart
    retryStrategy: (times) => Math.min(times * 100, 1000)
  })
  const state = track(client)
  const { logger } = options
  // Logged once per outage, not once per reconnection attempt.
  client.on('error', (err) => { if (!state.down) logger?.error({ err }, `${where(client)} unavailable; reconnecting`) })
  client.on('ready', () => { if (state.down) logger?.info(`${where(client)} is back`) })
  return client
}

/** Redis at host:port (never the URL: it may carry a password). */
export function where (client: Redis): string {
  const { host, port, path } = client.options
  return `Redis at ${path ?? `${host}:${port}`}`
}

interface State { down: boolean }
const states = new WeakMap<Redis, State>()

/** Whether the client is in an outage (an error since it was last ready). */
function track (client: Redis): State {
  let state = states.get(client)
  if (!state) {
    const s: State = state = { down: false }
    states.set(client, s)
    client.on('error', () => { s.down = true })
    client.on('ready', () => { s.down = false })
  }
  return state
}

/**
 * Runs a command once connected, the one mapping of Redis failures: while the client first connects
 * it waits (at most REDIS_TIMEOUT_MS); during an outage it fails at once; a failure is a
 * TransientError naming Redis and what failed (HTTP 503, a retry by a topic handler).
 */
export async function redisCall<T> (client: Redis, what: string, command: () => Promise<T>): Promise<T> {
  const state = track(client)
  try {
    if (client.status !== 'ready') {
      if (state.down || client.status === 'end') throw new Error(`not connected (${client.status})`)
      await connected(client)
    }
    return await command()
  } catch (err) {
    throw new TransientError(`${where(client)} unavailable: ${what} failed (${(err as Error).message})`, { cause: err })
  }
}

/** Pipelined commands: every reply, or a TransientError naming Redis and the first failure. */
export async function redisPipeline (client: Redis, what: string, build: (pipeline: ReturnType<Redis['pipeline']>) => void): Promise<unknown[]> {
  const results = await redisCall(client, what, async () => {
    const pipeline = client.pipeline()
    build(pipeline)
    return await pipeline.exec()
  })
  const failed = results?.find(([err]) => err)?.[0]
  if (!results || failed) throw new TransientError(`${where(client)} unavailable: ${what} failed (${failed?.message ?? 'no reply'})`, { cause: failed })
  return results.map(([, reply]) => reply)
}

function connected (client: Redis): Promise<void> {
  if (client.status === 'wait') client.connect().catch(() => {}) // a lazy client: its first use connects it
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { cleanup(); reject(new Error(`not connected within ${REDIS_TIMEOUT_MS} ms`)) }, REDIS_TIMEOUT_MS)
    const onReady = () => { cleanup(); resolve() }
    const onError = (err: Error) => { cleanup(); reject(err) }
    const onEnd = () => { cleanup(); reject(new Error('connection closed')) }
    const cleanup = () => { clearTimeout(timer); client.off('ready', onReady); client.off('error', onError); client.off('end', onEnd) }
    client.once('ready', onReady)
    client.once('error', onError)
    client.once('end', onEnd)
  })
}

export interface RedisPluginOptions {
  /** An injected client is used as is and left open on close. */
  redis?: Redis
}

export default fp<RedisPluginOptions>(async function redis (app, opts) {
  const { config } = app
  if (app.hasDecorator('redis')) throw new Error('the redis plugin is registered twice')
  if (!opts.redis && !config.REDIS_URL) {
    app.decorate('redis', null)
    return
  }
  const client = opts.redis ?? createRedisClient(config.REDIS_URL, {
    keyPrefix: config.REDIS_KEY_PREFIX,
    // CLIENT LIST shows which instance a connection belongs to
    connectionName: `switchboard-${app.instanceId}`,
    logger: app.log.child({ component: 'redis' })
  })
  app.decorate('redis', client)
  app.readiness.add('redis', async () => { await redisCall(client, 'ping', () => client.ping()) })
  // Connected before the app answers, so the first request does not meet a cold client. A Redis that
  // is down at start is logged and /ready fails; commands fail with 503 until it is back.
  app.addHook('onReady', async function connectRedis () {
    if (client.status !== 'wait') return
    const log = app.log.child({ component: 'redis' })
    await startUpSteps(log, config.PLUGIN_TIMEOUT_MS)(`${where(client)} to connect`, client.connect())
      .catch((err) => log.error({ err }, `${where(client)} not reachable at start; /ready fails until it is`))
  })
  if (!opts.redis) {
    app.addHook('onClose', async () => {
      if (client.status === 'ready') await client.quit().catch(() => client.disconnect())
      else client.disconnect()
    })
  }
}, { name: 'redis', dependencies: ['readiness'] })
