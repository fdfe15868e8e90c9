// What the failover tests share (issue 25, item 4). They run on the clustered services of
// `scripts/services.sh up --cluster` (three Kafka brokers, a Redis Cluster of 3 + 3), pointed at by
// the environment `scripts/services.sh env --cluster` prints, in a serial step of their own
// (`npm run test:failover`, .ci/run): they SIGKILL nodes of that cluster and restart them on their
// data through scripts/services.sh, given this process's environment, so that a private set
// (SWITCHBOARD_SERVICES_STATE, CLUSTER_KAFKA_PORT_BASE, CLUSTER_REDIS_PORT_BASE, …) is the one killed.
import type { Test } from 'tap'
import { execFile } from 'node:child_process'
import net from 'node:net'
import { promisify } from 'node:util'
import { fileURLToPath } from 'node:url'
import { clusterNodes, cleanupCluster, requireCluster, requireRedisCluster } from '../cluster/cluster.ts'
import { cleanupReal, realEnv, services, type RealNames } from '../services.ts'

const run = promisify(execFile)

// Where each socket was opened, for the report of a file that does not exit (below).
const opened = Symbol('opened')
const connect = net.Socket.prototype.connect as (...args: unknown[]) => net.Socket
net.Socket.prototype.connect = function (this: net.Socket & { [opened]?: string }, ...args: unknown[]) {
  const limit = Error.stackTraceLimit
  Error.stackTraceLimit = 40
  this[opened] = new Error('opened').stack
  Error.stackTraceLimit = limit
  return connect.apply(this, args)
} as typeof net.Socket.prototype.connect
const script = fileURLToPath(new URL('../../scripts/services.sh', import.meta.url))

/** scripts/services.sh with this process's environment (the same state dir and ports as the apps'). */
export const servicesSh = async (...args: string[]) => (await run(script, args, { env: process.env })).stdout

/**
 * True when the environment names a three-broker Kafka and a Redis Cluster, and they are the ones
 * scripts/services.sh manages with this environment (so what the test kills is what the apps use).
 */
export async function requireFailoverCluster (t: Test): Promise<boolean> {
  if (!await requireCluster(t) || !await requireRedisCluster(t)) return false
  const env = await servicesSh('env', '--cluster')
  // Once every app of the file is closed (their teardowns run before this one), no connection to a
  // broker may be left in use: kafkajs retries after a disconnect, and its sockets kept the process
  // alive after a broker failover until a closed bus ended what it opened (plugins/bus/kafka/sockets.ts).
  // Checked at that moment, not after a delay: a socket that is closing has ended its writes.
  // A leak fails the file (its exit code), says where each socket was opened, and is destroyed so
  // that the process still ends.
  const brokers = new Set(services.kafka.split(',').map((b) => Number(b.split(':').at(-1))))
  t.teardown(() => {
    const handles = (process as unknown as { _getActiveHandles (): unknown[] })._getActiveHandles()
    const leaked = handles.filter((h): h is net.Socket & { [opened]?: string } => h instanceof net.Socket && brokers.has(h.remotePort ?? -1) && !h.destroyed && !h.writableEnded)
    if (leaked.length === 0) return
    for (const s of leaked) console.log(`# a connection to broker port ${s.remotePort} still in use, opened at:\n${(s[opened] ?? '').split('\n').slice(1).filter((l) => !l.includes('node:') && !l.includes('/network/')).map((l) => `#   ${l.trim()}`).join('\n')}`)
    console.log(`# not ok: ${leaked.length} broker connection(s) still in use after every app was closed`)
    process.exitCode = 1
    for (const s of leaked) s.destroy()
  })
  const managed = t.ok(env.includes(`KAFKA_BROKERS=${services.kafka}`) && env.includes(`REDIS_CLUSTER_NODES=${clusterNodes}`),
    `scripts/services.sh manages the cluster the test points at (${services.kafka}; ${clusterNodes})`)
  return managed
}

/** An instance's settings on the cluster under these names: REDIS_CLUSTER_NODES, not REDIS_URL. */
export function clusterEnv (names: RealNames) {
  return { ...realEnv(names), REDIS_URL: '', REDIS_CLUSTER_NODES: clusterNodes }
}

/** Removes what a test left: topics, groups and database as cleanupReal does, keys on every primary. */
export async function cleanupFailover (names: RealNames): Promise<void> {
  await Promise.allSettled([cleanupReal({ topicPrefix: names.topicPrefix, database: names.database }), cleanupCluster(names.keyPrefix)])
}

/** The scripts/services.sh name of the Redis node at `port` (REDIS_CLUSTER_NODES lists redis-1..6 in order). */
export function redisNodeName (port: number): string {
  const index = clusterNodes.split(',').findIndex((n) => Number(n.trim().split(':').at(-1)) === port)
  if (index < 0) throw new Error(`no node of REDIS_CLUSTER_NODES on port ${port}`)
  return `redis-${index + 1}`
}

/** The q-quantile (0..1) of `values` (ms), or NaN when there are none. */
export function quantile (values: number[], q: number): number {
  if (values.length === 0) return NaN
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]
}

/**
 * A condition re-checked on every `changed()` (a frame, an acknowledgement, a reply): `until`
 * resolves when it holds, never on a timer.
 */
export function conditions () {
  const waiters: Array<{ done: () => boolean, resolve: () => void }> = []
  return {
    changed () {
      for (const w of [...waiters]) if (w.done()) { waiters.splice(waiters.indexOf(w), 1); w.resolve() }
    },
    until (done: () => boolean): Promise<void> {
      if (done()) return Promise.resolve()
      return new Promise((resolve) => waiters.push({ done, resolve }))
    }
  }
}
