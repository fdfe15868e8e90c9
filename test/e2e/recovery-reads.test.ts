// What a resubscribe costs and how it is counted (issue 10, item 7 and the helper report on metrics):
// the shared recovery log is read only for what it can prove and what fits the replay budget, and
// `recovered` counts what clients were actually told.
import t, { type Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { build, Client, handled } from '../helper.ts'
import { createEmbeddedRecoveryLog } from '../../plugins/recovery/embedded.ts'
import type { ChannelWindow, ReadRange, RecoveryLog } from '../../plugins/recovery/index.ts'
import type { Position } from '../../schemas/message.ts'

const CHANNEL = 'room'
const isEvent = (f: Record<string, any>) => f.op === 'event' && f.channel === CHANNEL

async function post (app: FastifyInstance, content: string): Promise<{ position: Position }> {
  const res = await app.inject({ method: 'POST', url: '/api/messages', payload: { channelId: CHANNEL, content, senderId: 'alice' } })
  if (res.statusCode !== 201) throw new Error(`post failed: ${res.statusCode} ${res.body}`)
  return res.json()
}

async function connect (app: FastifyInstance, t: Test) {
  const client = await Client.connect(`ws://127.0.0.1:${app.fanout.uwsPort}/ws`)
  t.teardown(() => client.close())
  return client
}

/** The shared log in process, remembering what each read returned. */
function spiedLog (size: number) {
  const log = createEmbeddedRecoveryLog({ size, ttlSeconds: 60 })
  const reads: Array<{ range?: ReadRange, window: ChannelWindow | null }> = []
  const spied: RecoveryLog = { ...log, read: async (channel, range) => { const window = await log.read(channel, range); reads.push({ range, window }); return window } }
  return { log: spied, reads }
}

/** A client sees the first message and leaves; `contents` are posted while it is away. */
async function missWhileAway (t: Test, app: FastifyInstance, contents: string[]) {
  const leaving = await connect(app, t)
  await leaving.subscribe(CHANNEL)
  await post(app, 'm1')
  const since = (await leaving.next(isEvent)).position as Position
  await leaving.close()
  let last = since
  for (const content of contents) last = (await post(app, content)).position
  await Promise.all([handled(app, 'messages-recovery', last), handled(app, 'messages-fanout', last)])
  return since
}

t.test('a since older than the shared log\'s window reads no events from it', async (t) => {
  const { log, reads } = spiedLog(2)
  const app = await build(t, { RECOVERY_BUFFER: 1 }, { recoveryLog: log })
  const since = await missWhileAway(t, app, ['m2', 'm3', 'm4']) // the shared log keeps m3 and m4 only
  const back = await connect(app, t)
  t.match(await back.subscribe(CHANNEL, since), { op: 'subscribed', recovered: false })
  t.equal(reads.length, 1, 'the shared log was asked')
  t.same(reads[0].range?.since, since, 'for the range after since')
  t.same(reads[0].window?.events, [], 'and answered without its events: it cannot prove the range')
  t.equal(app.recovery.stats.sharedLogEvents, 0)
  t.equal(app.recovery.stats.notRecovered, 1)
})

t.test('a replay the hub refuses as over its budget counts as not recovered', async (t) => {
  const app = await build(t, { WS_MAX_BACKPRESSURE: 2048 }) // a budget of 1 kB
  const since = await missWhileAway(t, app, ['x'.repeat(400), 'y'.repeat(400), 'z'.repeat(400)])
  const back = await connect(app, t)
  t.match(await back.subscribe(CHANNEL, since), { op: 'subscribed', recovered: false }, 'the client was told: not recovered')
  t.equal(app.fanout.stats.replaysOverBudget, 1, 'the hub refused the replay')
  t.same({ recovered: app.recovery.stats.recovered, notRecovered: app.recovery.stats.notRecovered, replayedEvents: app.recovery.stats.replayedEvents },
    { recovered: 0, notRecovered: 1, replayedEvents: 0 })
  const upToDate = await connect(app, t)
  t.match(await upToDate.subscribe(CHANNEL, app.fanout.hub.position(CHANNEL)!), { recovered: true }, 'a client that missed nothing is recovered')
  const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body
  t.match(metrics, /^switchboard_recovery_subscribes_total\{outcome="recovered"\} 1$/m)
  t.match(metrics, /^switchboard_recovery_subscribes_total\{outcome="not_recovered"\} 1$/m)
})

t.test('a shared-log replay over the budget is not read', async (t) => {
  const { log, reads } = spiedLog(10)
  const app = await build(t, { RECOVERY_BUFFER: 1, WS_MAX_BACKPRESSURE: 2048 }, { recoveryLog: log })
  const since = await missWhileAway(t, app, ['x'.repeat(400), 'y'.repeat(400), 'z'.repeat(400)])
  const back = await connect(app, t)
  t.match(await back.subscribe(CHANNEL, since), { op: 'subscribed', recovered: false })
  t.equal(reads[0].range?.maxBytes, 1024, 'the hub\'s replay budget goes with the read')
  t.match(reads[0].window, { overBudget: true, events: [] }, 'the log read none of it')
  t.equal(app.recovery.stats.notRecovered, 1)
  t.equal(app.fanout.stats.replaysOverBudget, 0, 'nothing over budget reached the hub')
})
