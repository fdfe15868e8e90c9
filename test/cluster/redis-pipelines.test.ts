// On a Redis Cluster ioredis sends a pipeline to one node only: a batch that spans channels (the
// cache's and the recovery log's per-batch pipelines) is split by the node owning each key's slot,
// one pipeline per node, all at once (plugins/external/redis.ts `redisPipeline`).
import t from 'tap'
import calculateSlot from 'cluster-key-slot'
import { createRedisCluster } from '../../plugins/external/redis.ts'
import { createRedisCache } from '../../plugins/cache/redis.ts'
import { createRedisRecoveryLog, recoveryKeys } from '../../plugins/recovery/redis.ts'
import { message } from '../contracts/cache.ts'
import { unique } from '../services.ts'
import { cleanupCluster, clusterNodes, requireRedisCluster } from './cluster.ts'

if (await requireRedisCluster(t)) {
  const keyPrefix = `${unique('cluster-pipelines')}:`
  t.teardown(() => cleanupCluster(keyPrefix))
  const redis = createRedisCluster(clusterNodes, { keyPrefix })
  t.teardown(() => redis.quit())
  await redis.connect()
  /** Pipelines sent while `work` runs. */
  const pipelines = async (work: () => Promise<unknown>) => {
    const pipeline = redis.pipeline
    let sent = 0
    redis.pipeline = (...args: Parameters<typeof pipeline>) => { sent++; return pipeline.apply(redis, args) }
    try { await work() } finally { redis.pipeline = pipeline }
    return sent
  }
  const primaryOf = (key: string) => redis.slots[calculateSlot(`${keyPrefix}${key}`)][0]
  const channels = Array.from({ length: 30 }, (_, i) => unique(`ch${i}`))

  t.test('the recovery log\'s batch over 30 partitions: one pipeline per primary involved, every event kept', async (t) => {
    const log = createRedisRecoveryLog(redis, { size: 10, ttlSeconds: 60 })
    const entries = channels.map((channel, i) => ({ channel, position: { epoch: `${channel}-e`, offset: String(i) }, frame: `{"n":${i}}` }))
    const primaries = new Set(entries.map((e) => primaryOf(recoveryKeys(e.position.epoch, e.channel).meta)))
    const latest = new Set(channels.map((c) => primaryOf(`recovery:latest:{${c}}`)))
    t.ok(primaries.size > 1, `the batch spans ${primaries.size} primaries`)
    t.equal(await pipelines(() => log.appendBatch(entries)), new Set([...primaries, ...latest]).size)
    for (const [i, channel] of channels.entries()) {
      t.same((await log.read(channel))?.events, [{ offset: String(i), frame: `{"n":${i}}` }], `${channel} has its event`)
    }
  })

  t.test('the cache\'s batch over 30 channels: one pipeline per primary involved, every channel cached', async (t) => {
    const cache = createRedisCache(redis, { recent: 10, ttlSeconds: 60 })
    t.teardown(() => cache.close())
    const messages = channels.map((channel) => message(channel, 'hi'))
    const primaries = new Set(channels.map((c) => primaryOf(`channel:{${c}}:ids`)))
    t.ok(primaries.size > 1, `the batch spans ${primaries.size} primaries`)
    t.equal(await pipelines(() => cache.apply(messages.map((m) => ({ type: 'create', message: m, position: m.position! })))), primaries.size)
    for (const m of messages) await cache.fill(m.channelId, [], true)
    for (const m of messages) t.same((await cache.page(m.channelId, { limit: 5 }))?.map((c) => c.id), [m.id], `${m.channelId} is cached`)
  })
}
