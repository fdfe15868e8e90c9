/* c8 ignore start */ // Coverage: `npm run bench` runs this file in a process of its own, which test/bench drives end to end (a child process's coverage is not collected); the thresholds measure the product.
// --fail broker|redis: finds the node to lose in the cluster of `scripts/services.sh up --cluster`
// (the same environment: KAFKA_BROKERS, REDIS_CLUSTER_NODES, the port bases), SIGKILLs it with the
// services script (data kept) and restarts it on its data later. --fail instance is run.ts's own.
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { Redis } from 'ioredis'
import { Kafka, Partitioners, logLevel } from 'kafkajs'
import type { FailureKind } from './options.ts'

const SERVICES = fileURLToPath(new URL('../services.sh', import.meta.url))
const run = promisify(execFile)
/** A killed broker or Redis node comes back this long after the kill. */
export const RESTART_AFTER_MS = 20_000

export interface KilledNode {
  /** the services script's name of the node: kafka-2, redis-4 */
  node: string
  /** why this one */
  detail: string
}

/** `scripts/services.sh <verb> <node>`, in this environment (its state directory and ports). */
export async function services (verb: 'kill' | 'up', node: string): Promise<void> {
  await run('bash', [SERVICES, verb, node], { env: process.env, timeout: 180_000 })
}

/** SIGKILLs the node --fail names; the caller restarts it with services('up', node). */
export async function killNode (what: Exclude<FailureKind, 'instance'>, channels: string[], env: NodeJS.ProcessEnv = process.env): Promise<KilledNode> {
  const found = what === 'broker' ? await busiestLeader(channels, env) : await aRedisPrimary(env)
  await services('kill', found.node)
  return found
}

/**
 * The leader of the `messages` partition that holds most of the run's channels (the producer's
 * murmur2 of the channel id over the partitions, as plugins/bus/kafka places them).
 */
export async function busiestLeader (channels: string[], env: NodeJS.ProcessEnv): Promise<KilledNode> {
  if (!env.KAFKA_BROKERS) throw new Error('--fail broker needs KAFKA_BROKERS (the cluster of scripts/services.sh up --cluster)')
  const topic = `${env.KAFKA_TOPIC_PREFIX ?? ''}messages`
  const admin = new Kafka({ clientId: 'bench-fail', brokers: env.KAFKA_BROKERS.split(',').map((b) => b.trim()), logLevel: logLevel.NOTHING }).admin()
  await admin.connect()
  try {
    const { topics } = await admin.fetchTopicMetadata({ topics: [topic] })
    const partitionMetadata = topics[0].partitions
    const { partition, count } = busiestPartition(channels, topic, partitionMetadata)
    const leader = partitionMetadata.find((p) => p.partitionId === partition)!.leader
    const { brokers } = await admin.describeCluster()
    const broker = brokers.find((b) => b.nodeId === leader)
    if (!broker) throw new Error(`the leader of ${topic} partition ${partition}, broker ${leader}, is not in the cluster's metadata`)
    return { node: scriptNode('kafka', broker.port, env), detail: `leader of ${topic} partition ${partition} (${count} of the run's ${channels.length} channels)` }
  } finally {
    await admin.disconnect()
  }
}

/** The partition most of the channels hash to (the lowest one on a tie). */
export function busiestPartition (channels: string[], topic: string, partitionMetadata: Array<{ partitionId: number, leader: number }>): { partition: number, count: number } {
  const partitioner = Partitioners.DefaultPartitioner()
  const counts = new Map<number, number>()
  for (const key of channels) {
    const p = partitioner({ topic, partitionMetadata: partitionMetadata as never, message: { key, value: null } })
    counts.set(p, (counts.get(p) ?? 0) + 1)
  }
  const [partition, count] = [...counts].sort((a, b) => b[1] - a[1] || a[0] - b[0])[0]
  return { partition, count }
}

/** A primary of the Redis Cluster (CLUSTER NODES on the first node that answers), the lowest port. */
export async function aRedisPrimary (env: NodeJS.ProcessEnv): Promise<KilledNode> {
  const nodes = (env.REDIS_CLUSTER_NODES ?? '').split(',').map((n) => n.trim()).filter(Boolean)
  if (nodes.length === 0) throw new Error('--fail redis needs REDIS_CLUSTER_NODES (the cluster of scripts/services.sh up --cluster)')
  let listing: string | undefined
  let lastError: unknown
  for (const node of nodes) {
    const [host, port] = node.split(':')
    const redis = new Redis({ host, port: Number(port), lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null })
    try {
      await redis.connect()
      listing = String(await redis.call('CLUSTER', 'NODES'))
      break
    } catch (err) {
      lastError = err
    } finally {
      redis.disconnect()
    }
  }
  if (listing === undefined) throw new Error(`no node of REDIS_CLUSTER_NODES answered CLUSTER NODES: ${(lastError as Error)?.message}`)
  const primary = primaryOf(listing)
  if (!primary) throw new Error('CLUSTER NODES lists no healthy primary')
  return { node: scriptNode('redis', primary.port, env), detail: `primary ${primary.address} (slots ${primary.slots})` }
}

/**
 * The services script's name of the node listening on `port` (node N of the cluster listens on the
 * port base + N, scripts/services/cluster.sh): nothing else is ever killed, not a single broker
 * whose node id happens to be 1.
 */
export function scriptNode (kind: 'kafka' | 'redis', port: number, env: NodeJS.ProcessEnv = process.env): string {
  const [base, nodes] = kind === 'kafka' ? [Number(env.CLUSTER_KAFKA_PORT_BASE || 19091), 3] : [Number(env.CLUSTER_REDIS_PORT_BASE || 7000), 6]
  const n = port - base
  if (!(n >= 1 && n <= nodes)) throw new Error(`port ${port} is not a node of scripts/services.sh up --cluster (${kind}-1..${nodes} on ports ${base + 1}-${base + nodes}; set CLUSTER_${kind.toUpperCase()}_PORT_BASE as for the script): --fail kills nodes of that cluster only`)
  return `${kind}-${n}`
}

/** From CLUSTER NODES: the healthy primary with slots on the lowest port. */
export function primaryOf (clusterNodes: string): { address: string, port: number, slots: string } | undefined {
  const primaries = clusterNodes.split('\n').map((line) => line.trim().split(' ')).filter((f) => f.length >= 9 && f[2].split(',').includes('master') && !/fail/.test(f[2]))
  const found = primaries.map((f) => ({ address: f[1].split('@')[0], port: Number(f[1].split('@')[0].split(':').pop()), slots: f.slice(8).join(' ') })).sort((a, b) => a.port - b.port)
  return found[0]
}
