// Deleted means gone, also for recovery (issue 10, item 2): a client resubscribing with an old `since`
// is replayed each message as it stands now, from this instance's buffer and from the shared
// recovery log (in process and on Redis): a deleted message's frames carry no text, an edited one's
// carry its current text, and the offsets stay as they were (the completeness proof needs them).
import t, { type Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { build, Client, handled } from '../helper.ts'
import type { Config } from '../../config.ts'
import type { Position } from '../../schemas/message.ts'
import { cleanupReal, requireService, services, unique } from '../services.ts'

const CHANNEL = 'room'
const isEvent = (f: Record<string, any>) => f.op === 'event' && f.channel === CHANNEL
const alice = { 'x-user-id': 'alice' }

async function connect (app: FastifyInstance, t: Test) {
  const client = await Client.connect(`ws://127.0.0.1:${app.fanout.uwsPort}/ws`)
  t.teardown(() => client.close())
  return client
}

async function post (app: FastifyInstance, content: string): Promise<{ id: string, position: Position }> {
  const res = await app.inject({ method: 'POST', url: '/api/messages', payload: { channelId: CHANNEL, content, senderId: 'alice' } })
  if (res.statusCode !== 201) throw new Error(`post failed: ${res.statusCode} ${res.body}`)
  return res.json()
}

async function edit (app: FastifyInstance, id: string, content: string) {
  const res = await app.inject({ method: 'PATCH', url: `/api/messages/${id}`, headers: alice, payload: { content } })
  if (res.statusCode !== 200) throw new Error(`edit failed: ${res.statusCode} ${res.body}`)
}

/**
 * A client leaves after the first message; then a message is posted, edited twice and deleted, and
 * another is posted and edited. Returns what a resubscribe with the client's `since` was replayed.
 */
async function replayAfterEditsAndDelete (t: Test, app: FastifyInstance) {
  const observer = await connect(app, t)
  await observer.subscribe(CHANNEL)
  const leaving = await connect(app, t)
  await leaving.subscribe(CHANNEL)
  await post(app, 'before')
  const since = (await leaving.next(isEvent)).position as Position
  await leaving.close()

  const secret = await post(app, 'ORIGINAL secret')
  await handled(app, 'messages-store', secret.position)
  await edit(app, secret.id, 'INTERMEDIATE secret')
  await edit(app, secret.id, 'LAST secret')
  t.equal((await app.inject({ method: 'DELETE', url: `/api/messages/${secret.id}`, headers: alice })).statusCode, 204)
  const kept = await post(app, 'first draft')
  await handled(app, 'messages-store', kept.position)
  await edit(app, kept.id, 'final text')
  while (observer.frames.filter(isEvent).length < 7) await observer.next(isEvent)
  const live = observer.frames.filter(isEvent)
  t.same(live.map((f) => f.type), ['message.created', 'message.created', 'message.updated', 'message.updated', 'message.deleted', 'message.created', 'message.updated'])
  const last = live[6].position as Position
  await Promise.all([handled(app, 'messages-recovery', last), handled(app, 'messages-fanout', last)])

  const back = await connect(app, t)
  t.same(await back.subscribe(CHANNEL, since), { op: 'subscribed', channel: CHANNEL, position: last, recovered: true })
  await post(app, 'after')
  await back.next((f) => isEvent(f) && f.data.content === 'after')
  return { secret, kept, live: live.slice(1), replay: back.frames.filter(isEvent).slice(0, -1) }
}

function assertCurrentState (t: Test, { secret, kept, live, replay }: Awaited<ReturnType<typeof replayAfterEditsAndDelete>>) {
  const text = replay.map((f) => JSON.stringify(f)).join('\n')
  for (const gone of ['ORIGINAL', 'INTERMEDIATE', 'LAST', 'first draft']) t.notMatch(text, gone, `no replayed frame carries "${gone}"`)
  t.same(replay.map((f) => f.position), live.map((f) => f.position), 'one frame per missed event, at the same offsets')
  t.same(replay.slice(0, 4), live.slice(0, 4).map((f) => ({ op: 'event', channel: CHANNEL, position: f.position, type: 'message.deleted', data: { id: secret.id, channelId: CHANNEL } })),
    'every event of the deleted message replays as its deletion')
  t.match(replay[4], { type: 'message.created', data: { id: kept.id, content: 'final text', editedAt: live[5].data.editedAt, position: live[4].position } }, 'an edited message is created with its current text')
  t.same(replay[5], live[5], 'its edit as sent')
}

t.test('from the instance\'s own buffer', async (t) => {
  const app = await build(t)
  const result = await replayAfterEditsAndDelete(t, app)
  assertCurrentState(t, result)
  t.equal(app.recovery.stats.sharedLogReads, 0, 'the buffer answered alone')
})

t.test('from the shared recovery log in process', async (t) => {
  const app = await build(t, { RECOVERY_BUFFER: 1 })
  const result = await replayAfterEditsAndDelete(t, app)
  assertCurrentState(t, result)
  t.equal(app.recovery.stats.sharedLogReads, 1, 'the buffer held only the last event: the shared log answered')
})

t.test('from the shared recovery log on Redis', async (t) => {
  if (!await requireService(t, 'redis')) return
  const keyPrefix = `${unique('redaction')}:`
  t.teardown(() => cleanupReal({ keyPrefix }))
  const app = await build(t, { RECOVERY_BUFFER: 1, REDIS_URL: services.redis, REDIS_KEY_PREFIX: keyPrefix } satisfies Partial<Config>)
  t.equal(app.recovery.log.kind, 'redis')
  const result = await replayAfterEditsAndDelete(t, app)
  assertCurrentState(t, result)
  t.equal(app.recovery.stats.sharedLogReads, 1)
})
