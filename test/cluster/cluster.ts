// The cluster suites run against `scripts/services.sh up --cluster`, pointed at by the environment
// that command prints (KAFKA_BROKERS with three brokers, REDIS_CLUSTER_NODES), in a step of their
// own (`npm run test:cluster`, .ci/run).
import type { Test } from 'tap'
import { Kafka, logLevel } from 'kafkajs'
import { Cluster } from 'ioredis'
import { parseClusterNodes } from '../../config.ts'
import { services } from '../services.ts'

/** REDIS_CLUSTER_NODES as `scripts/services.sh up --cluster` prints it ('' when unset). */
export const clusterNodes = process.env.REDIS_CLUSTER_NODES ?? ''

/** True when KAFKA_BROKERS names a cluster of three brokers or more; otherwise the test is skipped, saying why (failed under REQUIRE_SERVICES=1). */
export async function requireCluster (t: Test): Promise<boolean> {
  let brokers = 0
  const admin = new Kafka({ clientId: 'cluster-probe', brokers: services.kafka.split(','), connectionTimeout: 1000, retry: { retries: 1 }, logLevel: logLevel.NOTHING }).admin()
  try {
    await admin.connect()
    brokers = (await admin.describeCluster()).brokers.length
  } catch {} finally { await admin.disconnect().catch(() => {}) }
  if (brokers >= 3) return true
  const reason = `no Kafka cluster of three brokers at KAFKA_BROKERS=${services.kafka} (${brokers} found): run scripts/services.sh up --cluster and export what it prints`
  if (process.env.REQUIRE_SERVICES === '1') t.fail(reason)
  else { console.log(`# skipping: ${reason}`); t.plan(0, reason) }
  return false
}

/** True when REDIS_CLUSTER_NODES names a Redis Cluster whose slots are all served; otherwise the test is skipped, saying why (failed under REQUIRE_SERVICES=1). */
export async function requireRedisCluster (t: Test): Promise<boolean> {
  let state = 'REDIS_CLUSTER_NODES is not set'
  if (clusterNodes) {
    const probe = new Cluster(parseClusterNodes(clusterNodes), { lazyConnect: true, enableOfflineQueue: false, clusterRetryStrategy: () => null, redisOptions: { connectTimeout: 1000 } })
    try {
      await probe.connect()
      const info = await probe.cluster('INFO')
      state = /cluster_state:ok/.test(info) ? 'ok' : `cluster_state is not ok (${/cluster_state:(\w+)/.exec(info)?.[1]})`
    } catch (err) {
      state = `not reachable (${(err as Error).message})`
    } finally { probe.disconnect() }
  }
  if (state === 'ok') return true
  const reason = `no Redis Cluster at REDIS_CLUSTER_NODES=${clusterNodes}: ${state}; run scripts/services.sh up --cluster and export what it prints`
  if (process.env.REQUIRE_SERVICES === '1') t.fail(reason)
  else { console.log(`# skipping: ${reason}`); t.plan(0, reason) }
  return false
}

/** Deletes every key under `keyPrefix` on each primary of the cluster (a test's teardown). */
export async function cleanupCluster (keyPrefix: string): Promise<void> {
  const cluster = new Cluster(parseClusterNodes(clusterNodes), { lazyConnect: true })
  try {
    await cluster.connect()
    await Promise.all(cluster.nodes('master').map(async (node) => {
      for await (const keys of node.scanStream({ match: `${keyPrefix}*`, count: 500 }) as AsyncIterable<string[]>) {
        // one DEL per key: a node's keys span slots, and DEL of several keys must stay in one
        for (const key of keys) await node.del(key)
      }
    }))
  } finally {
    await cluster.quit()
  }
}
