// Recovery and presence across two instances on Kafka, Redis and MongoDB: a client reconnects to an
// instance that never saw what it missed (Redis covers it); a user connected to both instances
// leaves only when both connections are gone.
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { connectAs as connect, handled, presenceUpdate } from '../helper.ts'
import { buildReal, cleanupReal, handledLog, realNames, requireServices, unique } from '../services.ts'
import type { Position } from '../../schemas/message.ts'

if (await requireServices(t, 'kafka', 'redis', 'mongo')) {
  const names = realNames('recovery')
  const a = await buildReal(t, { names })
  const logA = handledLog(a)
  const top = t
  let b: FastifyInstance | undefined
  // Teardowns run in the order they were added: a stops, then b (built later), then the cleanup.
  t.teardown(async () => {
    await b?.close()
    await cleanupReal(names)
  })
  const buildB = async () => (b ??= await buildReal(top, { names }))

  t.test('a client reconnecting to another instance gets what it missed from Redis, then live events', async (t) => {
    const channel = unique('room')
    const isEvent = (f: Record<string, any>) => f.op === 'event' && f.channel === channel
    const post = async (app: FastifyInstance, content: string): Promise<{ position: Position }> => {
      const res = await app.inject({ method: 'POST', url: '/api/messages', payload: { channelId: channel, content, senderId: 'alice' } })
      t.equal(res.statusCode, 201, `posted ${content}`)
      return res.json()
    }
    const { client: observer } = await connect(a, t)
    await observer.subscribe(channel)
    const { client: leaving } = await connect(a, t)
    await leaving.subscribe(channel)
    await post(a, 'm1')
    const since = (await leaving.next(isEvent)).position as Position
    await leaving.close()
    await post(a, 'm2')
    const m3 = await post(a, 'm3')
    await logA.handled('messages-recovery', m3.position)

    // A second instance starts now: its fanout begins at the end of the log and never sees m1-m3.
    const b = await buildB()
    // listening before the post: the recovery log's handler (a group of its own) may be done before the 201
    const logAB = handledLog(a, b)
    const m4 = await post(b, 'm4')
    await Promise.all([handled(b, 'messages-fanout', m4.position), logAB.handled('messages-recovery', m4.position)])
    t.ok(BigInt(b.recovery.buffer.window(channel, since.epoch)!.floor) > BigInt(since.offset), 'b\'s own buffer starts after since')

    const { client: back } = await connect(b, t)
    t.same(await back.subscribe(channel, since), { op: 'subscribed', channel, position: m4.position, recovered: true })
    await post(a, 'm5')
    await back.next((f) => isEvent(f) && f.data.content === 'm5')
    while (observer.frames.filter(isEvent).length < 5) await observer.next(isEvent)
    t.same(back.frames.filter(isEvent), observer.frames.filter(isEvent).slice(1), 'm2-m4 replayed as sent live, then m5: no gap, no duplicate')
    t.equal(b.recovery.stats.sharedLogReads, 1, 'the shared log was needed')
  })

  t.test('an instance that has delivered nothing yet recovers a resubscribe from the shared log (issue 24, item 3)', async (t) => {
    const channel = unique('fresh')
    const isEvent = (f: Record<string, any>) => f.op === 'event' && f.channel === channel && f.position !== undefined
    const post = async (content: string): Promise<{ position: Position }> => {
      const res = await a.inject({ method: 'POST', url: '/api/messages', payload: { channelId: channel, content, senderId: 'alice' } })
      t.equal(res.statusCode, 201, `posted ${content}`)
      return res.json()
    }
    // the shared handlers' partitions may be on either instance (b joined in the test above)
    const log = handledLog(a, ...(b ? [b] : []))
    const { client: first } = await connect(a, t)
    await first.subscribe(channel)
    await post('m1')
    const since = (await first.next(isEvent)).position as Position
    const missed = [await post('m2'), await post('m3')]
    await log.handled('messages-recovery', missed[1].position)

    // A new instance, no post after it: it knows the partition only by where its consumer began.
    const fresh = await buildReal(t, { names })
    t.equal(fresh.recovery.buffer.window(channel, since.epoch), null, 'its buffer knows nothing of the partition')
    const { client: back } = await connect(fresh, t)
    t.same(await back.subscribe(channel, since), { op: 'subscribed', channel, position: missed[1].position, recovered: true })
    await back.next((f) => isEvent(f) && f.data.content === 'm3')
    t.same(back.frames.filter(isEvent).map((f) => f.data.content), ['m2', 'm3'], 'exactly the missed events, from the log')
  })

  t.test('presence across instances: a user leaves when its last connection, on either instance, is gone', async (t) => {
    const b = await buildB()
    const lobby = unique('lobby')
    const isActivity = (f: Record<string, any>) => f.op === 'event' && f.channel === lobby
    const present = async (app: FastifyInstance) => (await app.inject({ url: `/api/channels/${lobby}/presence` })).json().users.map((u: { userId: string }) => u.userId)
    const { client: bob } = await connect(a, t, 'bob')
    await bob.subscribe(lobby)
    t.match(await bob.next(isActivity), { type: 'presence.join', data: { userId: 'bob' } })

    const onA = await connect(a, t, 'alice')
    await onA.client.subscribe(lobby)
    t.same(await bob.next(isActivity), { op: 'event', channel: lobby, type: 'presence.join', data: { userId: 'alice' } })
    const onB = await connect(b, t, 'alice')
    const joinedB = presenceUpdate(b, onB.id)
    await onB.client.subscribe(lobby)
    t.match(await joinedB, { change: 'join', announced: false }, 'present already through the other instance')
    t.same(await present(b), ['alice', 'bob'], 'either instance answers for both')

    const typing = await b.inject({ method: 'POST', url: `/api/channels/${lobby}/typing`, headers: { 'x-user-id': 'carol' } })
    t.equal(typing.statusCode, 202)
    t.same(await bob.next(isActivity), { op: 'event', channel: lobby, type: 'typing', data: { userId: 'carol', name: 'carol' } }, 'typing on b reaches a subscriber of a')

    const leftA = presenceUpdate(a, onA.id)
    await onA.client.close()
    t.match(await leftA, { change: 'leave', announced: false })
    t.same(await present(a), ['alice', 'bob'])
    await onB.client.close()
    t.same(await bob.next(isActivity), { op: 'event', channel: lobby, type: 'presence.leave', data: { userId: 'alice' } })
    t.same(await present(a), ['bob'])
    t.equal(bob.frames.filter((f) => isActivity(f) && f.data.userId === 'alice' && f.type === 'presence.join').length, 1, 'one join, one leave')
  })
}
