// A selective fanout (FANOUT_SELECTIVE, docs/scaling.md) on Kafka, Redis and MongoDB: instance B
// (ROLES=fanout) reads only the partitions of `messages` in which its sockets subscribe to a
// channel; A takes the posts and writes the shared recovery log. B has no producer of its own, so
// every record it dispatches was fetched: its `broadcastTaken.fetch` counts what it read.
// Channels C, D and E are in three different partitions.
import t, { type Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { Client } from '../helper.ts'
import { buildReal, cleanupReal, handledLog, realNames, requireServices, unique } from '../services.ts'
import type { Position } from '../../schemas/message.ts'

if (await requireServices(t, 'kafka', 'redis', 'mongo')) {
  t.test('a fanout reads only the partitions its sockets need; a first subscribe there gets every later event, with an honest recovered', async (t) => {
    const names = realNames('selective')
    t.teardown(() => cleanupReal(names))
    // A keeps two events per channel in the shared log: a `since` older than that cannot be proven
    const a = await buildReal(t, { names, ROLES: 'api,workers', RATE_LIMIT_MAX: 0, RECOVERY_LOG: 2 })
    const b = await buildReal(t, { names, ROLES: 'fanout', FANOUT_SELECTIVE: true })
    const logA = handledLog(a)
    t.equal(b.fanoutReads.selective, true, 'B reads selectively')
    t.equal(b.fanoutReads.stats.reading, 0, 'no socket, no partition read')

    // three channels in three partitions, as the producer places them
    const channels: string[] = []
    const partitions = new Set<number>()
    while (channels.length < 3) {
      const channel = unique('room')
      const p = await b.bus.partitionOf!('messages', channel)
      if (!partitions.has(p)) { partitions.add(p); channels.push(channel) }
    }
    const [c, d, e] = channels
    const post = async (channel: string, content: string): Promise<{ position: Position }> => {
      const res = await a.inject({ method: 'POST', url: '/api/messages', payload: { channelId: channel, content, senderId: 'alice' } })
      t.equal(res.statusCode, 201, `posted ${content}`)
      return res.json()
    }
    const connect = async () => {
      const client = await Client.connect(`ws://127.0.0.1:${b.fanout.uwsPort}/ws`) // anonymous: no personal channel
      t.teardown(() => client.close())
      await client.next((f) => f.op === 'ready')
      return client
    }
    const eventsOf = (client: Client, channel: string) => client.frames.filter((f) => f.op === 'event' && f.channel === channel && f.position !== undefined)
    const fetched = () => b.bus.broadcastTaken!.fetch

    // X follows D: B reads D's partition, and nothing else
    const x = await connect()
    t.match(await x.subscribe(d), { op: 'subscribed', recovered: false })
    t.equal(b.fanoutReads.stats.reading, 1, 'one partition read')
    const c1 = await post(c, 'c1')
    const c2 = await post(c, 'c2')
    const e1 = await post(e, 'e1')
    await post(e, 'e2')
    await post(e, 'e3')
    await post(d, 'd1')
    await x.next((f) => f.op === 'event' && f.data?.content === 'd1')
    // d1 came in a fetch of the same broker as C's and E's partitions would: it is the only one
    t.equal(fetched(), 1, 'B fetched d1 alone: nothing of the partitions nobody here subscribes to')
    await Promise.all([logA.handled('messages-recovery', c2.position), logA.handled('messages-recovery', e1.position)])
    const before = (await post(e, 'e4')).position
    await logA.handled('messages-recovery', before)

    // Y's first subscribe to C: B reads C's partition from its end; c2 comes from the shared log
    const y = await connect()
    t.same(await y.subscribe(c, c1.position), { op: 'subscribed', channel: c, position: c2.position, recovered: true }, 'recovered from the shared log, standing at the end of the partition as B resumed it')
    t.equal(b.fanoutReads.stats.reading, 2, 'two partitions read')
    const c3 = await post(c, 'c3')
    const c4 = await post(c, 'c4')
    await y.next((f) => f.op === 'event' && f.data?.content === 'c4')
    t.same(eventsOf(y, c).map((f) => f.data.content), ['c2', 'c3', 'c4'], 'the missed event, then every later one live: ordered, no gap, no duplicate')
    t.same(eventsOf(y, c).slice(1).map((f) => f.position), [c3.position, c4.position], 'at their positions')

    // W's first subscribe to E with a `since` the shared log no longer proves (it keeps two per channel)
    const w = await connect()
    t.same(await w.subscribe(e, e1.position), { op: 'subscribed', channel: e, position: before, recovered: false }, 'not recovered; standing where B resumed the partition, not before')
    const e5 = await post(e, 'e5')
    await w.next((f) => f.op === 'event' && f.data?.content === 'e5')
    t.same(eventsOf(w, e).map((f) => f.position), [e5.position], 'then every later event live, nothing older')

    // the last sockets of C's and E's partitions leave: unsubscribe, and a closed socket
    y.send({ op: 'unsubscribe', channel: c })
    t.match(await y.subscribe('status:nobody'), { op: 'subscribed' }, 'the unsubscribe was handled before this subscribe (one socket, in order)')
    const gone = new Promise<void>((resolve) => b.fanout.hub.addHook('onDisconnect', async () => { resolve() }, 'test'))
    await w.close()
    await gone
    t.equal(b.fanoutReads.stats.reading, 1, 'back to D\'s partition alone')
    const readBefore = fetched()
    await post(c, 'c5')
    await post(e, 'e6')
    await post(d, 'd2')
    await x.next((f) => f.op === 'event' && f.data?.content === 'd2')
    t.equal(fetched() - readBefore, 1, 'd2 alone fetched: C and E are paused again')
    t.same(eventsOf(y, c).map((f) => f.data.content), ['c2', 'c3', 'c4'], 'nothing more for the socket that left C')
    await checkReady(t, b)
  })
}

/** B stays ready: a paused partition is not a lagging one. */
async function checkReady (t: Test, app: FastifyInstance) {
  const res = await app.inject({ url: '/ready' })
  t.equal(res.statusCode, 200, '/ready: paused partitions are no lag')
}
