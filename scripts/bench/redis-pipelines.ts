// The per-batch pipelines of the shared handlers on one Redis against a Redis Cluster: a batch of
// events over N channels (the cache's `apply`, the recovery log's `appendBatch`) is one round trip on
// one Redis and one per node involved on a cluster (plugins/external/redis.ts `redisPipeline`). Prints the
// pipelines sent (round trips, sent in parallel) and the time per batch on each.
//   REDIS_URL=redis://127.0.0.1:6379 REDIS_CLUSTER_NODES=127.0.0.1:7001,… \
//     npx tsx scripts/bench/redis-pipelines.ts [--channels 50] [--batches 100]
import { parseArgs } from 'node:util'
import { randomBytes } from 'node:crypto'
import { Cluster } from 'ioredis'
import { createRedisClient, createRedisCluster, type RedisClient } from '../../plugins/external/redis.ts'
import { createRedisCache } from '../../plugins/cache/redis.ts'
import { createRedisRecoveryLog } from '../../plugins/recovery/redis.ts'
import type { Message } from '../../schemas/message.ts'

const { values } = parseArgs({ options: { channels: { type: 'string', default: '50' }, batches: { type: 'string', default: '100' }, partitions: { type: 'string', default: '24' } } })
const [channels, batches, partitions] = [Number(values.channels), Number(values.batches), Number(values.partitions)]
const targets: Array<[string, () => RedisClient]> = []
const prefix = `bench-pipelines-${randomBytes(4).toString('hex')}:`
if (process.env.REDIS_URL) targets.push([`one Redis (${process.env.REDIS_URL.replace(/\/\/[^@]*@/, '//')})`, () => createRedisClient(process.env.REDIS_URL!, { keyPrefix: prefix })])
if (process.env.REDIS_CLUSTER_NODES) targets.push(['Redis Cluster (REDIS_CLUSTER_NODES)', () => createRedisCluster(process.env.REDIS_CLUSTER_NODES!, { keyPrefix: prefix })])
if (targets.length === 0) {
  console.error('set REDIS_URL and/or REDIS_CLUSTER_NODES')
  process.exit(2)
}

let hex = 0
const id = () => (++hex).toString(16).padStart(24, '0')
const message = (channelId: string, offset: number): Message =>
  ({ id: id(), channelId, senderId: 'u1', senderName: 'U', content: 'x'.repeat(120), createdAt: new Date().toISOString(), position: { epoch: `p${offset % partitions}`, offset: String(offset) } }) as Message

interface Row { target: string, handler: string, pipelines: number, ms: number[] }

async function measure (target: string, redis: RedisClient): Promise<Row[]> {
  await redis.connect()
  const pipeline = redis.pipeline
  let sent = 0
  redis.pipeline = ((...args: Parameters<typeof pipeline>) => { sent++; return pipeline.apply(redis, args) }) as typeof pipeline
  const cache = createRedisCache(redis, { recent: 100, ttlSeconds: 120 })
  const log = createRedisRecoveryLog(redis, { size: 100, ttlSeconds: 120 })
  const rows: Row[] = [{ target, handler: 'cache apply', pipelines: 0, ms: [] }, { target, handler: 'recovery appendBatch', pipelines: 0, ms: [] }]
  let offset = 0
  for (let b = 0; b < batches; b++) {
    // one event per channel, channel c in partition c % partitions (so offsets grow per partition)
    const batch = Array.from({ length: channels }, (_, c) => message(`ch${c}`, offset++))
    for (const [row, run] of [
      [rows[0], () => cache.apply(batch.map((m) => ({ type: 'create' as const, message: m, position: m.position! })))],
      [rows[1], () => log.appendBatch(batch.map((m) => ({ channel: m.channelId, position: m.position!, frame: JSON.stringify(m) })))]
    ] as const) {
      sent = 0
      const started = process.hrtime.bigint()
      await run()
      row.ms.push(Number(process.hrtime.bigint() - started) / 1e6)
      row.pipelines = Math.max(row.pipelines, sent)
    }
  }
  await cache.close()
  redis.pipeline = pipeline
  // clean up: every key under the prefix, on each primary of a cluster
  const nodes = redis instanceof Cluster ? redis.nodes('master') : [redis]
  for (const node of nodes) {
    for await (const keys of node.scanStream({ match: `${prefix}*`, count: 1000 }) as AsyncIterable<string[]>) {
      for (const key of keys) await node.del(key.slice(redis instanceof Cluster ? 0 : prefix.length))
    }
  }
  await redis.quit()
  return rows
}

const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]
console.log(`${batches} batches of ${channels} events, one per channel, over ${partitions} partitions`)
console.log('target                                  handler                pipelines/batch  p50 ms  p99 ms  mean ms')
for (const [name, make] of targets) {
  for (const row of await measure(name, make())) {
    const sorted = [...row.ms].sort((a, b) => a - b)
    const mean = row.ms.reduce((a, b) => a + b, 0) / row.ms.length
    console.log(`${row.target.padEnd(40)}${row.handler.padEnd(23)}${String(row.pipelines).padStart(15)}  ${quantile(sorted, 0.5).toFixed(2).padStart(6)}  ${quantile(sorted, 0.99).toFixed(2).padStart(6)}  ${mean.toFixed(2).padStart(7)}`)
  }
}
