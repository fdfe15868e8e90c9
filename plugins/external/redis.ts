// The process's one Redis connection (the @fastify/redis shape): the cache, the recovery log,
// presence, nonces and rate-limit counters all share `app.redis`, with one readiness check and one
// mapping of its failures (`redisCall`). `app.redis` is one Redis (REDIS_URL) or a Redis Cluster
// (REDIS_CLUSTER_NODES), with the same options and failure mapping; null without either (each
// concern then keeps its state in process). Keys are prefixed by the client (REDIS_KEY_PREFIX),
// never by hand; on a cluster the keys a script or transaction touches share one hash slot
// (docs/redis-keys.md), and a pipeline is split per node (`redisPipeline`). Writes that must survive
// a primary's failover wait for its replicas (`redisWaitReplicas`).
import type { FastifyBaseLogger } from 'fastify'
import fp from 'fastify-plugin'
import { Cluster, Redis } from 'ioredis'
import calculateSlot from 'cluster-key-slot'
import { parseClusterNodes } from '../../config.ts'
import { TransientError } from './errors.ts'
import { startUpSteps } from './start-up.ts'

/** One Redis or a Redis Cluster: every concern takes either. */
export type RedisClient = Redis | Cluster

declare module 'fastify' {
  interface FastifyInstance {
    /** Keys are prefixed with REDIS_KEY_PREFIX; null when neither REDIS_URL nor REDIS_CLUSTER_NODES is set. */
    redis: RedisClient | null
  }
}

/** How long a command waits for a connection (or an answer) before it fails with a 503-style error. */
export const REDIS_TIMEOUT_MS = 2000

interface ClientOptions { keyPrefix?: string, connectionName?: string, logger?: FastifyBaseLogger }

// a command while disconnected fails at once (the caller answers 503 or retries), never queues
const FAIL_FAST = { enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: REDIS_TIMEOUT_MS, commandTimeout: REDIS_TIMEOUT_MS } as const
// reconnect by itself, forever, at most a second apart
const reconnect = (times: number) => Math.min(times * 100, 1000)

/** A client with switchboard's options: fail fast while disconnected, reconnect in the background. */
export function createRedisClient (url: string, options: ClientOptions = {}): Redis {
  const client = new Redis(url, { ...FAIL_FAST, keyPrefix: options.keyPrefix, connectionName: options.connectionName, lazyConnect: true, retryStrategy: reconnect })
  return logged(client, options.logger)
}

/**
 * A Redis Cluster client with the same options, from some of its nodes ("host:port,…"; the rest is
 * discovered). A primary that fails over is followed by the cluster's MOVED answers and a refresh
 * of the slot map; until its replica is promoted, commands for its slots fail (503, a retry).
 */
export function createRedisCluster (nodes: string, options: ClientOptions = {}): Cluster {
  const { enableOfflineQueue, ...perNode } = FAIL_FAST
  const client = new Cluster(parseClusterNodes(nodes), {
    keyPrefix: options.keyPrefix,
    lazyConnect: true,
    enableOfflineQueue,
    clusterRetryStrategy: reconnect,
    // a failover takes the cluster a few seconds (node timeout + election): follow it within the command's time
    retryDelayOnFailover: 200,
    retryDelayOnClusterDown: 200,
    slotsRefreshTimeout: REDIS_TIMEOUT_MS,
    redisOptions: { ...perNode, connectionName: options.connectionName }
  })
  startupNodes.set(client, nodes)
  return logged(client, options.logger)
}

/** The nodes a cluster client was given, for messages before it knows its topology. */
const startupNodes = new WeakMap<Cluster, string>()

function logged<C extends RedisClient> (client: C, logger?: FastifyBaseLogger): C {
  const state = track(client)
  // Logged once per outage, not once per reconnection attempt.
  client.on('error', (err: Error) => { if (!state.down) logger?.error({ err }, `${where(client)} unavailable; reconnecting`) })
  client.on('ready', () => { if (state.down) logger?.info(`${where(client)} is back`) })
  return client
}

/** Redis at host:port (never the URL: it may carry a password); a cluster by its nodes. */
export function where (client: RedisClient): string {
  if (client instanceof Cluster) {
    const primaries = client.nodes('master').map((node) => `${node.options.host}:${node.options.port}`).sort()
    const nodes = primaries.length ? primaries.join(',') : startupNodes.get(client)?.replace(/ /g, '')
    return `Redis Cluster${nodes ? ` at ${nodes}` : ''}`
  }
  const { host, port, path } = client.options
  return `Redis at ${path ?? `${host}:${port}`}`
}

/** The prefix the client puts before every key ('' when none). */
export function keyPrefixOf (client: RedisClient): string {
  return client.options.keyPrefix ?? ''
}

interface State { down: boolean }
const states = new WeakMap<RedisClient, State>()

/** Whether the client is in an outage (an error since it was last ready). */
function track (client: RedisClient): State {
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
export async function redisCall<T> (client: RedisClient, what: string, command: () => Promise<T>): Promise<T> {
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

/**
 * Pipelined commands: every reply, in order, or a TransientError naming Redis and the first failure.
 * On one Redis, one round trip. On a cluster, where ioredis sends a pipeline to one node only, the
 * commands are grouped by the node that owns their slot and each group is one pipeline, all sent at
 * once: one round trip per node involved. Each command's first argument is a key of the slot it
 * touches (true of every command and script switchboard pipelines). A node that fails fails the
 * call while other nodes may have applied their part: every pipelined write is idempotent, and
 * the caller retries the whole.
 */
export async function redisPipeline (client: RedisClient, what: string, build: (pipeline: ReturnType<Redis['pipeline']>) => void): Promise<unknown[]> {
  const results = await redisCall(client, what, async () => {
    if (!(client instanceof Cluster)) {
      const pipeline = client.pipeline()
      build(pipeline)
      return await pipeline.exec()
    }
    return await perNode(client, build)
  })
  const failed = results?.find(([err]) => err)?.[0]
  if (!results || failed) throw new TransientError(`${where(client)} unavailable: ${what} failed (${failed?.message ?? 'no reply'})`, { cause: failed })
  return results.map(([, reply]) => reply)
}

/** How many replicas must hold a write before it counts as done (Redis WAIT), and how long to wait for them. */
export interface ReplicaWait { replicas: number, timeoutMs: number }

/**
 * Waits until `replicas` replicas of each primary that owns one of `keys` hold what this client wrote
 * to it so far (Redis WAIT, one per primary, side by side: one more round trip). A write a replica
 * holds survives its primary's failover; a write only the primary held may be lost with it. WAIT goes
 * on the connection that wrote (it counts that connection's writes and, the replication stream
 * being ordered, everything the primary wrote before them). Fewer acknowledgements within
 * `timeoutMs`, or a primary that cannot be told, is a TransientError: the caller retries its writes
 * (idempotent) and WAITs again, on the promoted replica after a failover.
 */
export async function redisWaitReplicas (client: RedisClient, what: string, keys: string[], { replicas, timeoutMs }: ReplicaWait): Promise<void> {
  if (replicas <= 0 || keys.length === 0) return
  const answers = await redisCall(client, what, async () => {
    if (!(client instanceof Cluster)) return [{ node: where(client), acked: await client.wait(replicas, timeoutMs) }]
    const prefix = keyPrefixOf(client)
    const owners = new Set(keys.map((key) => client.slots[calculateSlot(`${prefix}${key}`)]?.[0] ?? `slot of ${key} unknown`))
    const primaries = new Map(client.nodes('master').map((node) => [`${node.options.host}:${node.options.port}`, node]))
    return await Promise.all([...owners].map(async (owner) => {
      const node = primaries.get(owner)
      if (!node) throw new Error(`no connection to the primary of ${owner}`)
      return { node: owner, acked: await node.wait(replicas, timeoutMs) }
    }))
  })
  const short = answers.filter(({ acked }) => acked < replicas)
  if (short.length > 0) {
    const detail = short.map(({ node, acked }) => `${acked} of ${replicas} at ${node}`).join(', ')
    throw new TransientError(`${where(client)}: ${what} not acknowledged by enough replicas within ${timeoutMs} ms (WAIT: ${detail})`)
  }
}

type Replies = Array<[Error | null, unknown]> | null
interface Call { name: string, args: unknown[] }

/** The pipeline's commands, one pipeline per node that owns their slots, in parallel; replies in the order built. */
async function perNode (cluster: Cluster, build: (pipeline: ReturnType<Redis['pipeline']>) => void): Promise<Replies> {
  const calls: Call[] = []
  // records each command called on it (never a thenable: nothing awaits a pipeline being built)
  const recorder: unknown = new Proxy({}, { get: (_, name) => name === 'then' ? undefined : (...args: unknown[]) => { calls.push({ name: String(name), args }); return recorder } })
  build(recorder as ReturnType<Redis['pipeline']>)
  const groups = byNode(cluster, calls)
  const replies: NonNullable<Replies> = new Array(calls.length)
  await Promise.all([...groups.values()].map(async (indexes) => {
    const pipeline = cluster.pipeline() as unknown as Record<string, (...args: unknown[]) => unknown> & { exec (): Promise<Replies> }
    for (const i of indexes) pipeline[calls[i].name](...calls[i].args)
    const answers = await pipeline.exec()
    indexes.forEach((i, j) => { replies[i] = answers?.[j] ?? [new Error('no reply'), null] })
  }))
  return replies
}

/** The indexes of `calls` by the node that owns the slot of each one's first key (by slot while the map is unknown). */
function byNode (cluster: Cluster, calls: Call[]): Map<string, number[]> {
  const prefix = keyPrefixOf(cluster)
  const groups = new Map<string, number[]>()
  calls.forEach(({ args }, i) => {
    const slot = calculateSlot(`${prefix}${String(args[0])}`)
    const owner = cluster.slots[slot]?.[0] ?? `slot ${slot}`
    const group = groups.get(owner)
    if (group) group.push(i)
    else groups.set(owner, [i])
  })
  return groups
}

function connected (client: RedisClient): Promise<void> {
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
  redis?: RedisClient
}

export default fp<RedisPluginOptions>(async function redis (app, opts) {
  const { config } = app
  if (app.hasDecorator('redis')) throw new Error('the redis plugin is registered twice')
  if (!opts.redis && !config.REDIS_URL && !config.REDIS_CLUSTER_NODES) {
    app.decorate('redis', null)
    return
  }
  const options: ClientOptions = {
    keyPrefix: config.REDIS_KEY_PREFIX,
    // CLIENT LIST shows which instance a connection belongs to
    connectionName: `switchboard-${app.instanceId}`,
    logger: app.log.child({ component: 'redis' })
  }
  const client = opts.redis ?? (config.REDIS_CLUSTER_NODES ? createRedisCluster(config.REDIS_CLUSTER_NODES, options) : createRedisClient(config.REDIS_URL, options))
  app.decorate<RedisClient | null>('redis', client)
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
