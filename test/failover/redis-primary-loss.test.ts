// Failover 2 (issue 25, item 4): a Redis Cluster primary is SIGKILLed with writes it had not yet
// passed to its replica (asynchronous replication: the replica is held with SIGSTOP and the
// primary's link to it dropped, then the primary gets a few writes and is killed, the replica is
// let go). The replica takes over; the instance follows by itself (its handlers' writes succeed
// again with nothing done to it); history is complete; a resubscribe to a channel whose recovery
// log was on the lost primary answers `recovered: false` (the log proves it has a hole) rather than
// a partial replay, and the history reload holds every message; a channel whose log is on another
// primary still recovers exactly what it missed. The killed node restarts on its data and rejoins
// as a replica. No time is asserted; the figures are printed.
//
// A channel whose *cache* entry lived on the lost primary (W) had the gap's writes there too: the
// test waits until the primary holds one of them. The cache handler's batches wait for a replica
// (REDIS_WAIT_REPLICAS=1), so that batch was never done: it is retried after the failover and
// rewrites the entry on the promoted replica, once that has a replica of its own again (the killed
// node, restarted). W's history, a hit, then holds every acknowledged message.
import t from 'tap'
import { Redis } from 'ioredis'
import calculateSlot from 'cluster-key-slot'
import { Client } from '../helper.ts'
import { buildReal, handledLog, realNames } from '../services.ts'
import { clusterNodes } from '../cluster/cluster.ts'
import { recoveryKeys } from '../../plugins/recovery/redis.ts'
import type { Position } from '../../schemas/message.ts'
import { cleanupFailover, clusterEnv, redisNodeName, requireFailoverCluster, servicesSh } from './failover.ts'

const CANDIDATES = 30
/** messages per channel before the replication gap, in it (lost with the primary; W gets one), and after the failover */
const BEFORE = 3
const IN_GAP = 4
const AFTER = 3

interface Node { id: string, port: number, primary: boolean, failed: boolean, primaryId: string, slots: Array<[number, number]> }

/** CLUSTER NODES as seen from `port`. */
async function topology (port: number): Promise<Node[]> {
  const redis = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 1 })
  try {
    await redis.connect()
    const text = await redis.cluster('NODES') as string
    return text.trim().split('\n').map((line) => {
      const [id, address, flags, primaryId, , , , , ...slots] = line.split(' ')
      return {
        id,
        port: Number(address.split('@')[0].split(':').at(-1)),
        primary: flags.includes('master'),
        failed: flags.split(',').includes('fail'),
        primaryId,
        slots: slots.filter((s) => !s.startsWith('[')).map((s) => { const [lo, hi = lo] = s.split('-').map(Number); return [lo, hi] as [number, number] })
      }
    })
  } finally { redis.disconnect() }
}

const ownerOf = (nodes: Node[], slot: number) => nodes.find((n) => n.primary && !n.failed && n.slots.some(([lo, hi]) => slot >= lo && slot <= hi))!

/** Tells when the node at `port` holds a field of the hash `key` (keyspace notifications: no polling). */
async function watchHash (port: number, key: string) {
  const subscriber = new Redis({ host: '127.0.0.1', port })
  const probe = new Redis({ host: '127.0.0.1', port })
  await probe.config('SET', 'notify-keyspace-events', 'Kh')
  await subscriber.subscribe(`__keyspace@0__:${key}`)
  let check = () => {}
  subscriber.on('message', () => check())
  return {
    holds: (field: string) => new Promise<void>((resolve, reject) => {
      check = () => { probe.hexists(key, field).then((n) => { if (n) resolve() }, reject) }
      check()
    }),
    close: () => { subscriber.disconnect(); probe.disconnect() } // idempotent
  }
}

if (await requireFailoverCluster(t)) {
  t.test('SIGKILL a Redis primary holding unreplicated writes: the replica takes over, history complete, recovery honest, the node rejoins as a replica', async (t) => {
    const names = realNames('failover-redis')
    t.teardown(() => cleanupFailover(names))
    // One event per channel in the instance's own buffer: a resubscribe reads the shared log.
    const a = await buildReal(t, { names, ...clusterEnv(names), RATE_LIMIT_MAX: 0, RECOVERY_BUFFER: 1, REDIS_WAIT_REPLICAS: 1 })
    const workers = handledLog(a)
    const deadLetters: string[] = []
    a.topicHandlers.events.on('handled', (h) => { if (h.outcome !== 'ok') deadLetters.push(`${h.handler}@${h.offset}`) })
    const ports = clusterNodes.split(',').map((n) => Number(n.split(':').at(-1)))

    const acked: Array<{ channel: string, id: string, content: string, position: Position }> = []
    let n = 0
    /** A post retried until acknowledged (posts go to Kafka only: Redis's state never refuses them). */
    const post = async (channel: string) => {
      const content = `${channel}-${++n}`
      for (let attempt = 1; ; attempt++) {
        const res = await a.inject({ method: 'POST', url: '/api/messages', headers: { 'x-user-id': 'poster' }, payload: { channelId: channel, content, nonce: content } })
        if (res.statusCode === 201) {
          const m = { channel, id: res.json().id as string, content, position: res.json().position as Position }
          acked.push(m)
          return m
        }
        if (attempt === 50) throw new Error(`post ${content} not accepted (${res.statusCode})`)
        await a.inject('/ready')
      }
    }
    /** Every handler that writes Redis or the store is past `m` (`cache: false`: all but the cache's, which waits for replicas). */
    const settled = (m: { position: Position }, { cache = true } = {}) =>
      Promise.all(['messages-recovery', 'messages-store', ...cache ? ['messages-cache'] : []].map((h) => workers.handled(h, m.position)))

    // Which primary holds each candidate channel's recovery log (its partition epoch's slot) and cache entry.
    const firsts = await Promise.all(Array.from({ length: CANDIDATES }, (_, i) => post(`c${i}`)))
    await Promise.all(firsts.map((m) => settled(m)))
    const before = await topology(ports[0])
    const placed = firsts.map((m) => ({
      channel: m.channel,
      log: ownerOf(before, calculateSlot(`${names.keyPrefix}${recoveryKeys(m.position.epoch, m.channel).partition}`)),
      cache: ownerOf(before, calculateSlot(`${names.keyPrefix}channel:{${m.channel}}:ids`))
    }))
    const lost = placed[0].log // the primary to kill: it holds the first channel's recovery log
    const x = placed.find((p) => p.log.id === lost.id && p.cache.id !== lost.id)
    const y = placed.find((p) => p.log.id !== lost.id && p.cache.id !== lost.id)
    const w = placed.find((p) => p.cache.id === lost.id)
    if (!x) { t.fail('no candidate channel with its recovery log on the primary and its cache elsewhere'); return }
    const replica = before.find((nd) => !nd.primary && nd.primaryId === lost.id)
    if (!replica) { t.fail(`primary :${lost.port} has no replica`); return }
    const primaryNode = redisNodeName(lost.port)
    t.comment(`killing ${primaryNode} (:${lost.port}); its replica ${redisNodeName(replica.port)} (:${replica.port}); X=${x.channel} (log on it), Y=${y?.channel ?? 'none'} (on other primaries), W=${w?.channel ?? 'none'} (cache on it)`)
    const channels = [x, y, w].filter((c) => c !== undefined).map((c) => c.channel)

    for (let i = 0; i < BEFORE; i++) for (const c of channels) await settled(await post(c))
    const since = new Map(channels.map((c) => [c, acked.filter((m) => m.channel === c).at(-1)!.position]))
    // History read once: each channel's cache entry is filled, and later reads are hits.
    const history = async (channel: string) => {
      const res = await a.inject({ url: `/api/channels/${channel}/messages?limit=100`, headers: { 'x-user-id': 'reader' } })
      return { contents: (res.json().messages as Array<{ content: string }>).map((m) => m.content).reverse(), cache: res.headers['x-cache'] }
    }
    for (const c of channels) await history(c)

    // The replication gap: the replica held, the primary's link to it dropped; what follows is written to the primary alone.
    const replicaClient = new Redis({ host: '127.0.0.1', port: replica.port })
    t.teardown(() => replicaClient.disconnect())
    const replicaPid = Number(/process_id:(\d+)/.exec(await replicaClient.info('server'))![1])
    replicaClient.disconnect()
    process.kill(replicaPid, 'SIGSTOP')
    t.teardown(() => { try { process.kill(replicaPid, 'SIGCONT') } catch {} })
    const primaryClient = new Redis({ host: '127.0.0.1', port: lost.port })
    await primaryClient.client('KILL', 'TYPE', 'replica')
    primaryClient.disconnect()
    for (let i = 0; i < IN_GAP; i++) for (const c of channels.filter((c) => c !== w?.channel)) await settled(await post(c))
    // Last, W, one message: its entry gets it on the primary alone, so the loss of a cache write is
    // certain. Its cache batch then waits for a replica that does not answer, and holds back the
    // next batches of its partition (the recovery log's too: they share a consumer), hence last.
    if (w) {
      const entry = await watchHash(lost.port, `${names.keyPrefix}channel:{${w.channel}}:msgs`)
      t.teardown(() => entry.close())
      const m = await post(w.channel)
      await settled(m, { cache: false })
      await entry.holds(m.id)
      entry.close() // before the kill: its clients would reconnect to a dead node
    }

    const killedAt = Date.now()
    await servicesSh('kill', primaryNode)
    process.kill(replicaPid, 'SIGCONT')
    await post(x.channel)
    // The instance follows by itself: its own Redis client writes to the lost primary's slots again
    // once the replica serves them (nothing is done to the instance; a write succeeds on a primary only).
    let probe = 0
    while (ownerOf(before, calculateSlot(`${names.keyPrefix}probe{${probe}}`)).id !== lost.id) probe++
    for (let attempt = 1; ; attempt++) {
      try {
        await a.redis!.set(`probe{${probe}}`, 'written after the failover')
        break
      } catch (err) {
        if (attempt === 100) throw err
        await a.inject('/ready')
      }
    }
    const backAt = Date.now()
    const now = await topology(ports.find((p) => p !== lost.port)!)
    const promoted = now.find((nd) => nd.id === replica.id)!
    t.ok(promoted.primary, `the replica (:${replica.port}) is a primary now`)

    // The killed node restarts on its data and rejoins, as a replica of the promoted one: the cache
    // handler's writes there are acknowledged again, and its retried batches done.
    const upAt = Date.now()
    await servicesSh('up', primaryNode)
    const rejoined = (await topology(lost.port)).find((nd) => nd.id === lost.id)!
    t.notOk(rejoined.primary, `${primaryNode} rejoined as a replica`)
    t.equal(rejoined.primaryId, replica.id, 'of the replica that took over')
    const rejoinedIn = Date.now() - upAt
    await Promise.all(acked.map((m) => settled(m)))
    t.same(deadLetters, [], 'no record dead-lettered: the handlers waited for the failover')
    for (let i = 1; i < AFTER; i++) await settled(await post(x.channel))
    for (let i = 0; i < AFTER; i++) for (const c of channels.filter((c) => c !== x.channel)) await settled(await post(c))

    // History: every acknowledged message of X and Y, once, in order.
    const expected = (channel: string) => acked.filter((m) => m.channel === channel).map((m) => m.content)
    for (const c of [x, y].filter((c) => c !== undefined)) {
      const page = await history(c.channel)
      t.same(page.contents, expected(c.channel), `history of ${c.channel}: every acknowledged message once, in order (x-cache: ${page.cache})`)
    }

    // Recovery: X's log lost the gap's writes with the primary; the log proves the hole.
    const client = await Client.connect(`ws://127.0.0.1:${a.fanout.uwsPort}/ws?user=reader`)
    t.teardown(() => client.close())
    await client.next((f) => f.op === 'ready')
    const xAnswer = await client.subscribe(x.channel, since.get(x.channel))
    t.match(xAnswer, { op: 'subscribed', recovered: false }, `${x.channel} (recovery log on the lost primary): recovered: false, no partial replay`)
    const replayed = client.frames.filter((f) => f.op === 'event' && f.channel === x.channel).length
    t.equal(replayed, 0, 'nothing replayed for it')
    const reload = await history(x.channel)
    const missedX = acked.filter((m) => m.channel === x.channel && BigInt(m.position.offset) > BigInt(since.get(x.channel)!.offset)).map((m) => m.content)
    t.same(missedX.filter((c) => !reload.contents.includes(c)), [], `the history reload holds every message it missed (${missedX.length})`)
    if (y) {
      const yAnswer = await client.subscribe(y.channel, since.get(y.channel))
      const missed = acked.filter((m) => m.channel === y.channel && BigInt(m.position.offset) > BigInt(since.get(y.channel)!.offset)).map((m) => m.content)
      t.match(yAnswer, { op: 'subscribed', recovered: true }, `${y.channel} (recovery log on a surviving primary): recovered: true`)
      const got = client.frames.filter((f) => f.op === 'event' && f.channel === y.channel && f.type === 'message.created').map((f) => f.data.content)
      t.same(got, missed, `${y.channel}: exactly what it missed, in order`)
    } else t.comment('every candidate channel had its recovery log on the lost primary: no control channel this run')
    if (w) {
      // Its entry lost a write of the gap with the primary; the batch that made it was retried on the promoted replica.
      const page = await history(w.channel)
      t.same(page.contents, expected(w.channel), `history of ${w.channel} (cache entry on the lost primary): every acknowledged message once, in order (x-cache: ${page.cache})`)
    } else t.comment('no candidate channel had its cache entry on the lost primary this run')

    t.comment(`kill → replica serving and the instance's Redis client writing there again: ${backAt - killedAt} ms; ${primaryNode} up and rejoined in ${rejoinedIn} ms`)
  })
}
