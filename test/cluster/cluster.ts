// The cluster suites run against `scripts/services.sh up --cluster`, pointed at by the environment
// that command prints (KAFKA_BROKERS with three brokers, REDIS_CLUSTER_NODES), in a step of their
// own (`npm run test:cluster`, .ci/run).
import type { Test } from 'tap'
import { Kafka, logLevel } from 'kafkajs'
import { services } from '../services.ts'

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
