// The recovery buffer is bounded by bytes (issue 10, item 11): frames reach ~24 kB, so a bound in
// events alone let it grow to gigabytes. Dropping keeps the proofs sound: never a wrong replay.
import t from 'tap'
import { RecoveryBuffer } from '../../plugins/recovery/buffer.ts'
import { planRecovery } from '../../plugins/recovery/plan.ts'
import { build } from '../helper.ts'

const E = 'epoch-a'
const at = (offset: number) => ({ epoch: E, offset: String(offset) })
const frame = (channel: string, offset: number) => `${channel}@${offset}:`.padEnd(1000, 'x') // 1000 bytes

t.test('channels past maxBytes are dropped least recently written first, and their silence is not proven', async (t) => {
  const buffer = new RecoveryBuffer({ size: 100, maxChannels: 100, maxBytes: 10_000 })
  let offset = 0
  for (const channel of ['a', 'b', 'c']) for (let i = 0; i < 4; i++, offset++) buffer.remember(channel, at(offset), frame(channel, offset))
  t.equal(buffer.bytes, 8000, 'a (4 kB) was dropped to make room for the 12th kB')
  t.equal(buffer.channelCount, 2)
  t.equal(planRecovery(at(0), buffer.window('a', E)), null, 'a dropped channel cannot be recovered (not: "it had no events")')
  t.same(planRecovery(at(3), buffer.window('c', E))?.replay, [8, 9, 10, 11].map((n) => frame('c', n)), 'the newest channel is whole')
  t.ok(buffer.bytes <= buffer.maxBytes)
})

t.test('a single channel over maxBytes keeps its newest events and raises its floor', async (t) => {
  const buffer = new RecoveryBuffer({ size: 100, maxBytes: 3500 })
  for (let n = 0; n < 10; n++) buffer.remember('big', at(n), frame('big', n))
  const window = buffer.window('big', E)!
  t.same(window.events.map((e) => e.offset), ['7', '8', '9'], 'the newest 3 kB')
  t.equal(window.floor, '6', 'nothing at or below the last dropped event is proven')
  t.equal(buffer.bytes, 3000)
  t.equal(planRecovery(at(5), window), null)
  t.same(planRecovery(at(6), window)?.replay, [7, 8, 9].map((n) => frame('big', n)))
  buffer.remember('big', at(10), 'x'.repeat(5000)) // one frame larger than the bound: kept nowhere
  t.same(buffer.window('big', E)!.events, [])
  t.equal(buffer.bytes, 0)
  t.equal(planRecovery(at(9), buffer.window('big', E)), null, 'its event is missing, so no recovery from before it')
})

t.test('RECOVERY_BUFFER_BYTES configures the bound; /metrics reports the bytes held', async (t) => {
  const app = await build(t, { RECOVERY_BUFFER_BYTES: 4096 })
  t.equal(app.recovery.buffer.maxBytes, 4096)
  app.fanout.publish('general', 'message.created', { text: 'x'.repeat(1000) }, at(1))
  const held = app.recovery.buffer.bytes
  t.ok(held > 1000 && held <= 4096, `${held} bytes held`)
  const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body
  t.match(metrics, new RegExp(`^switchboard_recovery_buffer_bytes ${held}$`, 'm'))
})

t.test('the recovery plugin\'s buffer is fed by the hub\'s onPublished tap: positioned events only', async (t) => {
  const app = await build(t, { RECOVERY_BUFFER: 2 })
  for (const n of [1, 2, 3]) app.fanout.publish('c', 'message.created', { n }, at(n))
  app.fanout.publish('c', 'typing', { userId: 'bob' })
  app.fanout.publish('c', 'message.created', { n: 2 }, at(2)) // a redelivery the hub drops
  t.same(app.recovery.buffer.window('c', E), {
    epoch: E,
    floor: '1',
    high: '3',
    events: [2, 3].map((n) => ({ offset: String(n), frame: JSON.stringify({ op: 'event', channel: 'c', position: at(n), type: 'message.created', data: { n } }) }))
  }, 'the last two message events, as published; the typing event is not kept')
})
