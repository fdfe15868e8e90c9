// The cache's writes wait for a replica (REDIS_WAIT_REPLICAS) on the Redis Cluster: a batch is done
// once each primary it wrote to has a replica holding it (one WAIT per primary, side by side); a
// batch whose WAIT gets fewer replicas than asked fails with a transient error, and the cache
// handler retries it (its offsets not committed) until a replica holds it. A replica that does not
// acknowledge is made by stopping its process (SIGSTOP, then SIGCONT: nothing is killed).
import t, { type Test } from 'tap'
import { Redis, type Cluster } from 'ioredis'
import calculateSlot from 'cluster-key-slot'
import { createRedisCluster } from '../../plugins/external/redis.ts'
import { isTransient } from '../../plugins/external/errors.ts'
import { createRedisCache } from '../../plugins/cache/redis.ts'
import type { MessageCache } from '../../plugins/cache/index.ts'
import { created, message } from '../contracts/cache.ts'
import { buildReal, handledLog, realEnv, realNames, unique } from '../services.ts'
import type { Position } from '../../schemas/message.ts'
import { cleanupCluster, clusterNodes, requireCluster, requireRedisCluster } from './cluster.ts'

const OPTIONS = { recent: 50, ttlSeconds: 60 }
const WAIT = { replicas: 1, timeoutMs: 200 }

/** The primary ("host:port") that owns a channel's cache entry, and its replica. */
function placement (redis: Cluster, keyPrefix: string, channel: string) {
  const [primary, replica] = redis.slots[calculateSlot(`${keyPrefix}channel:{${channel}}:ids`)]
  return { primary, replica }
}

const connect = (node: string) => new Redis({ host: node.split(':')[0], port: Number(node.split(':')[1]) })

/** WAITs a primary has answered so far (INFO commandstats). */
async function waits (node: string): Promise<number> {
  const client = connect(node)
  try { return Number(/cmdstat_wait:calls=(\d+)/.exec(await client.info('commandstats'))?.[1] ?? 0) } finally { client.disconnect() }
}

/** Stops a replica's process (it then acknowledges nothing) until the returned function lets it go. */
async function stopReplica (t: Test, node: string): Promise<() => void> {
  const client = connect(node)
  const pid = Number(/process_id:(\d+)/.exec(await client.info('server'))![1])
  client.disconnect()
  process.kill(pid, 'SIGSTOP')
  let stopped = true
  const resume = () => { if (stopped) { stopped = false; process.kill(pid, 'SIGCONT') } }
  t.teardown(resume)
  return resume
}

/** Channels until one's entry is on each primary (a batch that touches them all). */
function spread (redis: Cluster, keyPrefix: string): string[] {
  const byPrimary = new Map<string, string>()
  for (let i = 0; byPrimary.size < redis.nodes('master').length; i++) {
    const { primary } = placement(redis, keyPrefix, `spread${i}`)
    if (!byPrimary.has(primary)) byPrimary.set(primary, `spread${i}`)
  }
  return [...byPrimary.values()]
}

if (await requireRedisCluster(t)) {
  const keyPrefix = `${unique('cache-replicas')}:`
  t.teardown(() => cleanupCluster(keyPrefix))
  const redis = createRedisCluster(clusterNodes, { keyPrefix })
  t.teardown(() => redis.quit())
  await redis.connect()

  t.test('a batch over every primary: one WAIT each, side by side, acknowledged; the entries are hits', async (t) => {
    const cache = createRedisCache(redis, OPTIONS, WAIT)
    const channels = spread(redis, keyPrefix)
    const primaries = channels.map((c) => placement(redis, keyPrefix, c).primary)
    const before = await Promise.all(primaries.map(waits))
    const msgs = channels.flatMap((c) => [message(c, `${c}-1`), message(c, `${c}-2`)])
    await cache.apply(msgs.map((m, i) => created(m, i + 1)))
    const after = await Promise.all(primaries.map(waits))
    t.same(after.map((n, i) => n - before[i]), primaries.map(() => 1), `one WAIT on each of the ${primaries.length} primaries the batch wrote to`)
    await cache.fill(channels[0], [], true) // complete: the page below is a hit
    t.same((await cache.page(channels[0], { limit: 10 }))?.map((m) => m.content), [`${channels[0]}-2`, `${channels[0]}-1`])

    const one = placement(redis, keyPrefix, channels[1]).primary
    const others = primaries.filter((p) => p !== one)
    const beforeOne = await Promise.all([one, ...others].map(waits))
    await cache.upsert(message(channels[1], 'alone'))
    const afterOne = await Promise.all([one, ...others].map(waits))
    t.same(afterOne.map((n, i) => n - beforeOne[i]), [1, ...others.map(() => 0)], 'a write to one channel: one WAIT, on its primary only')
  })

  t.test('a batch whose WAIT gets fewer replicas than asked fails (transient); its retry passes once the replica acknowledges', async (t) => {
    const cache = createRedisCache(redis, OPTIONS, WAIT)
    const channel = 'held'
    const { replica } = placement(redis, keyPrefix, channel)
    const first = message(channel, 'first')
    const resume = await stopReplica(t, replica)
    const err = await cache.apply([created(first, 1)]).then(() => null, (e: Error) => e)
    resume()
    t.ok(err, 'the batch failed')
    t.ok(isTransient(err), 'with a transient error (the handler retries it, its offsets not committed)')
    t.match(err?.message, /0 of 1 at /, `naming the primary whose replica did not acknowledge (${err?.message})`)
    await cache.apply([created(first, 1)]) // the retry
    await cache.fill(channel, [], true)
    t.same((await cache.page(channel, { limit: 10 }))?.map((m) => m.content), ['first'], 'the retried batch is in the entry, once')
  })

  t.test('0 replicas asked: no WAIT is sent', async (t) => {
    const cache = createRedisCache(redis, OPTIONS, { replicas: 0, timeoutMs: 200 })
    const channel = 'unwaited'
    const { primary } = placement(redis, keyPrefix, channel)
    const before = await waits(primary)
    await cache.apply([created(message(channel, 'x'), 1)])
    t.equal(await waits(primary) - before, 0)
  })

  t.test('the cache handler retries a batch no replica acknowledged, and commits it once one does', async (t) => {
    if (!await requireCluster(t)) return
    const names = realNames('cache-wait')
    t.teardown(() => cleanupCluster(names.keyPrefix))
    const own = createRedisCluster(clusterNodes, { keyPrefix: names.keyPrefix })
    t.teardown(() => own.quit())
    await own.connect()
    // The app's cache, watched: each `apply` (one per attempt at a batch) and how it ended.
    const inner = createRedisCache(own, OPTIONS, WAIT)
    const attempts: Array<Error | 'ok'> = []
    let failed: () => void = () => {}
    const firstFailure = new Promise<void>((resolve) => { failed = resolve })
    const cache: MessageCache = {
      ...inner,
      async apply (changes) {
        try {
          await inner.apply(changes)
          attempts.push('ok')
        } catch (err) {
          attempts.push(err as Error)
          failed()
          throw err
        }
      }
    }
    const app = await buildReal(t, { names, ...realEnv(names), REDIS_URL: '', REDIS_CLUSTER_NODES: clusterNodes, REDIS_WAIT_REPLICAS: 1, REDIS_WAIT_TIMEOUT_MS: 200 }, { cache })
    const workers = handledLog(app)
    const outcomes: string[] = []
    app.topicHandlers.events.on('handled', (h) => { if (h.handler === 'messages-cache') outcomes.push(h.outcome) })
    const channel = 'handled'
    const post = async (content: string) => {
      const res = await app.inject({ method: 'POST', url: '/api/messages', headers: { 'x-user-id': 'poster' }, payload: { channelId: channel, content } })
      t.equal(res.statusCode, 201, `${content} posted`)
      return res.json().position as Position
    }
    await workers.handled('messages-cache', await post('before'))
    t.same(attempts, ['ok'], 'a batch with WAIT passes while the replica acknowledges')

    const resume = await stopReplica(t, placement(own, names.keyPrefix, channel).replica)
    const held = await post('held')
    await firstFailure
    resume()
    await workers.handled('messages-cache', held)
    t.ok(attempts.length >= 3, `the failed batch was retried (${attempts.length} attempts in all)`)
    t.ok(isTransient(attempts[1]), 'its first attempt failed with a transient error')
    t.equal(attempts.at(-1), 'ok', 'and its retry passed once the replica acknowledged')
    t.same(outcomes, ['ok', 'ok'], 'both handled, nothing dead-lettered')
    const page = await app.inject({ url: `/api/channels/${channel}/messages?limit=10`, headers: { 'x-user-id': 'reader' } })
    t.same((page.json().messages as Array<{ content: string }>).map((m) => m.content), ['held', 'before'])
  })
}
