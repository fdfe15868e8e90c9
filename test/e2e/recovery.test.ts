// Reconnect recovery end to end on the embedded services: a client leaves, events happen, a new
// connection resubscribes with `since` and gets exactly what it missed, then live events.
import t, { type Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { build, Client, handled } from '../helper.ts'
import { createEmbeddedRecoveryLog } from '../../plugins/recovery/embedded.ts'
import type { Position } from '../../schemas/message.ts'

const CHANNEL = 'room'
const isEvent = (f: Record<string, any>) => f.op === 'event' && f.channel === CHANNEL

async function post (app: FastifyInstance, content: string): Promise<{ id: string, position: Position }> {
  const res = await app.inject({ method: 'POST', url: '/api/messages', payload: { channelId: CHANNEL, content, senderId: 'alice' } })
  if (res.statusCode !== 201) throw new Error(`post failed: ${res.statusCode} ${res.body}`)
  return res.json()
}

/** A client subscribed to the channel from the start: what every event frame looked like live. */
async function observe (app: FastifyInstance, t: Test) {
  const observer = await connect(app, t)
  await observer.subscribe(CHANNEL)
  const all = () => observer.frames.filter(isEvent)
  // the first n event frames, once they have arrived
  return { events: async (n: number) => { while (all().length < n) await observer.next(isEvent); return all().slice(0, n) } }
}

async function connect (app: FastifyInstance, t: Test) {
  const client = await Client.connect(`ws://127.0.0.1:${app.fanout.uwsPort}/ws`)
  t.teardown(() => client.close())
  return client
}

/** Subscribes, takes the first message's position as `since`, and leaves. */
async function seeOneAndLeave (app: FastifyInstance, t: Test) {
  const client = await connect(app, t)
  await client.subscribe(CHANNEL)
  const first = await post(app, 'm1')
  const since = (await client.next(isEvent)).position as Position
  t.same(since, first.position)
  await client.close()
  return { first, since }
}

t.test('a client that reconnects with since gets every missed message event in order, then live ones', async (t) => {
  const app = await build(t)
  const observer = await observe(app, t)
  const { first, since } = await seeOneAndLeave(app, t)
  // While it is away: a new message, an edit, a deletion, another message.
  const second = await post(app, 'm2')
  await handled(app, 'messages-store', first.position)
  t.equal((await app.inject({ method: 'PATCH', url: `/api/messages/${first.id}`, headers: { 'x-user-id': 'alice' }, payload: { content: 'm1 edited' } })).statusCode, 200)
  await handled(app, 'messages-store', second.position)
  t.equal((await app.inject({ method: 'DELETE', url: `/api/messages/${second.id}`, headers: { 'x-user-id': 'alice' } })).statusCode, 204)
  await post(app, 'm3')
  const seen = await observer.events(5)
  t.same(seen.map((f) => f.type), ['message.created', 'message.created', 'message.updated', 'message.deleted', 'message.created'])

  const back = await connect(app, t)
  t.same(await back.subscribe(CHANNEL, since), { op: 'subscribed', channel: CHANNEL, position: seen[4].position, recovered: true })
  const live = await post(app, 'm4')
  const m4 = await back.next((f) => isEvent(f) && f.data.content === 'm4')
  t.same(m4.position, live.position)
  // m2 was deleted meanwhile: its creation replays as its deletion, at the same offset (no text)
  const m2Deleted = { ...seen[1], type: 'message.deleted', data: { id: second.id, channelId: CHANNEL } }
  t.same(back.frames.filter(isEvent), [m2Deleted, ...seen.slice(2), ...(await observer.events(6)).slice(5)], 'the missed frames as sent live (a deleted message without its text), then m4: no gap, no duplicate')
  t.equal(app.recovery.stats.recovered, 1)
})

t.test('when neither the buffer nor the shared log covers the gap: recovered false and no replay', async (t) => {
  const app = await build(t, { RECOVERY_BUFFER: 2, RECOVERY_LOG: 2 })
  const observer = await observe(app, t)
  const { since } = await seeOneAndLeave(app, t)
  for (const content of ['m2', 'm3', 'm4']) await post(app, content)
  const seen = await observer.events(4)
  await handled(app, 'messages-recovery', seen[3].position)

  const back = await connect(app, t)
  t.same(await back.subscribe(CHANNEL, since), { op: 'subscribed', channel: CHANNEL, position: seen[3].position, recovered: false })
  await post(app, 'm5')
  await back.next(isEvent)
  t.same(back.frames.filter(isEvent).map((f) => f.data.content), ['m5'], 'nothing replayed, never a partial replay: only live events')
  t.equal(app.recovery.stats.notRecovered, 1)
})

t.test('the shared log covers what this instance\'s buffer dropped, even with live events during the lookup', async (t) => {
  // The shared log's read waits for the test: events published meanwhile must be neither lost nor doubled.
  const log = createEmbeddedRecoveryLog({ size: 50, ttlSeconds: 60 })
  let release!: () => void
  const gate = new Promise<void>((resolve) => { release = resolve })
  let reading!: () => void
  const readStarted = new Promise<void>((resolve) => { reading = resolve })
  const slowLog = { ...log, read: async (channel: string) => { reading(); await gate; return log.read(channel) } }
  const app = await build(t, { RECOVERY_BUFFER: 1 }, { recoveryLog: slowLog })
  const observer = await observe(app, t)
  const { since } = await seeOneAndLeave(app, t)
  for (const content of ['m2', 'm3', 'm4']) await post(app, content)
  const seen = await observer.events(4)
  await handled(app, 'messages-recovery', seen[3].position)

  const back = await connect(app, t)
  const subscribed = back.subscribe(CHANNEL, since)
  await readStarted
  const during = await post(app, 'during the lookup')
  await handled(app, 'messages-fanout', during.position)
  release()
  t.same(await subscribed, { op: 'subscribed', channel: CHANNEL, position: during.position, recovered: true })
  await post(app, 'after')
  await back.next((f) => isEvent(f) && f.data.content === 'after')
  t.same(back.frames.filter(isEvent), (await observer.events(6)).slice(1), 'm2-m4 from the shared log, then the event of the lookup once, then live')
  t.equal(app.recovery.stats.sharedLogReads, 1)
})

t.test('a since that cannot be trusted gives recovered false, a malformed one an error frame; never a crash', async (t) => {
  const app = await build(t)
  const observer = await observe(app, t)
  await post(app, 'm1')
  const [last] = await observer.events(1)
  const client = await connect(app, t)
  const current = last.position as Position
  for (const since of [{ epoch: 'not-this-one', offset: '0' }, { ...current, offset: String(BigInt(current.offset) + 1000n) }]) {
    t.same(await client.subscribe(CHANNEL, since), { op: 'subscribed', channel: CHANNEL, position: current, recovered: false }, JSON.stringify(since))
    client.send({ op: 'unsubscribe', channel: CHANNEL })
  }
  client.send({ op: 'subscribe', channel: CHANNEL, since: { epoch: current.epoch, offset: '-1' } })
  t.match(await client.next((f) => f.op === 'error'), { code: 'bad_frame' })
  t.match(await client.subscribe(CHANNEL), { op: 'subscribed', recovered: false }, 'the connection works and the bad frame subscribed nothing')
  t.equal(app.recovery.stats.recovered, 0)
})
