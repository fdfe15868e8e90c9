// The recovery proofs alone: the per-instance buffer's windows and the replay plan, with channels
// that share a partition (offsets of one channel have holes) and every way completeness can fail.
import t from 'tap'
import { RecoveryBuffer } from '../../plugins/recovery/buffer.ts'
import { planRecovery, type ChannelWindow } from '../../plugins/recovery/plan.ts'
import { frames } from '../../fanout/protocol.ts'

const E = 'epoch-a'
const at = (offset: number, epoch = E) => ({ epoch, offset: String(offset) })
const frame = (channel: string, offset: number) => `${channel}@${offset}`

/** Feeds a partition: `channels[i]` is the channel of offset `start + i`. */
function feed (buffer: RecoveryBuffer, start: number, channels: string[], epoch = E) {
  channels.forEach((channel, i) => buffer.remember(channel, at(start + i, epoch), frame(channel, start + i)))
}

t.test('replays only the channel\'s events after since, in order, and stands at the partition high', async (t) => {
  const buffer = new RecoveryBuffer({ size: 10 })
  feed(buffer, 0, ['a', 'b', 'a', 'b', 'b', 'a'])
  t.same(planRecovery(at(0), buffer.window('a', E)), { position: at(5), recovered: true, replay: ['a@2', 'a@5'] })
  t.same(planRecovery(at(3), buffer.window('a', E)), { position: at(5), recovered: true, replay: ['a@5'] }, 'since may be another channel\'s offset')
  t.same(planRecovery(at(5), buffer.window('a', E)), { position: at(5), recovered: true, replay: [] }, 'nothing missed')
  t.same(planRecovery(at(2), buffer.window('quiet', E)), { position: at(5), recovered: true, replay: [] }, 'a channel with no event since the buffer started had none')
})

t.test('a since the buffer cannot prove gives null: before its window, future, other or unknown epoch', async (t) => {
  const buffer = new RecoveryBuffer({ size: 2 })
  feed(buffer, 10, ['a', 'a', 'a', 'b'])
  t.same(buffer.window('a', E), { epoch: E, floor: '10', high: '13', events: [{ offset: '11', frame: 'a@11' }, { offset: '12', frame: 'a@12' }] })
  t.equal(planRecovery(at(9), buffer.window('a', E)), null, 'an event was dropped from the ring (offset 10)')
  t.same(planRecovery(at(10), buffer.window('a', E))?.replay, ['a@11', 'a@12'])
  t.equal(planRecovery(at(8), buffer.window('b', E)), null, 'before the buffer started: offsets 0-9 were never seen')
  t.equal(planRecovery(at(14), buffer.window('a', E)), null, 'a future position')
  t.equal(planRecovery(at(11, 'other'), buffer.window('a', E)), null, 'an offset from another epoch')
  t.equal(buffer.window('a', 'unknown'), null, 'an epoch this instance never saw')
})

t.test('a hole in the partition\'s offsets or a dropped channel moves the proof past it', async (t) => {
  const buffer = new RecoveryBuffer({ size: 10, maxChannels: 2 })
  feed(buffer, 0, ['a', 'a'])
  feed(buffer, 5, ['a']) // offsets 2-4 never reached the fanout
  t.equal(planRecovery(at(1), buffer.window('a', E)), null, 'events 2-4 may have been this channel\'s')
  t.same(planRecovery(at(4), buffer.window('a', E))?.replay, ['a@5'])
  feed(buffer, 6, ['b', 'c']) // three channels in a buffer of two: a (least recently written) goes
  t.equal(buffer.channelCount, 2)
  t.equal(planRecovery(at(4), buffer.window('a', E)), null, 'a forgotten channel is not a quiet one: its event at 5 is gone')
  t.same(planRecovery(at(5), buffer.window('a', E)), { position: at(7), recovered: true, replay: [] }, 'after its last event it is quiet again')
  t.equal(planRecovery(at(4), buffer.window('b', E)), null, 'b\'s proof also stops at a\'s last event')
  t.same(planRecovery(at(6), buffer.window('c', E))?.replay, ['c@7'])
  buffer.remember('c', at(7), 'again')
  t.same(buffer.window('c', E)?.events.map((e) => e.frame), ['c@7'], 'a redelivered offset is ignored')
})

t.test('the shared log fills what the buffer lacks, without a hole and without a duplicate', async (t) => {
  const buffer = new RecoveryBuffer({ size: 2 })
  feed(buffer, 20, ['a', 'x', 'a', 'a']) // this instance started at offset 20
  const shared = (floor: number, high: number, offsets: number[]): ChannelWindow =>
    ({ epoch: E, floor: String(floor), high: String(high), events: offsets.map((o) => ({ offset: String(o), frame: frame('a', o) })) })
  const local = buffer.window('a', E)
  t.equal(local?.floor, '20')
  t.same(planRecovery(at(12), local, shared(10, 22, [12, 15, 20, 22])), { position: at(23), recovered: true, replay: ['a@15', 'a@20', 'a@22', 'a@23'] })
  t.same(planRecovery(at(12), local, shared(10, 30, [15, 20, 22, 23, 25]))?.replay, ['a@15', 'a@20', 'a@22', 'a@23'], 'shared events past this instance come live, not replayed')
  t.equal(planRecovery(at(12), local, shared(10, 19, [15])), null, 'the shared log lags behind the buffer\'s floor: a hole at 20')
  t.equal(planRecovery(at(12), local, shared(13, 22, [15, 20, 22])), null, 'the shared log was trimmed past since')
  t.equal(planRecovery(at(12), local, { ...shared(10, 22, [15]), epoch: 'other' }), null, 'the shared log is in another epoch')
  t.equal(planRecovery(at(12), local, null), null, 'no shared log')
})

t.test('revise: a message\'s earlier frames follow its edits and deletion; a redelivered older revision changes nothing', async (t) => {
  const buffer = new RecoveryBuffer({ size: 10 })
  const x = 'bbbbbbbbbbbbbbbbbbbbbbb1'
  const event = (offset: number, type: string, data: object) => frames.event('a', type, data, at(offset))
  buffer.remember('a', at(0), event(0, 'message.created', { id: x, channelId: 'a', content: 'v1' }))
  buffer.remember('a', at(1), event(1, 'message.created', { id: 'other', channelId: 'a', content: 'v1 too' }))
  buffer.remember('a', at(2), event(2, 'message.updated', { id: x, channelId: 'a', content: 'v2', editedAt: 't2' }))
  buffer.revise('a', at(2), { id: x, content: 'v2', editedAt: 't2' })
  buffer.remember('a', at(3), event(3, 'message.updated', { id: x, channelId: 'a', content: 'v3', editedAt: 't3' }))
  buffer.revise('a', at(3), { id: x, content: 'v3', editedAt: 't3' })
  buffer.revise('a', at(2), { id: x, content: 'v2', editedAt: 't2' }) // redelivered
  const contents = () => buffer.window('a', E)!.events.map((e) => JSON.parse(e.frame).data.content)
  t.same(contents(), ['v3', 'v1 too', 'v3', 'v3'], 'current text in every frame of x, others untouched')
  const before = buffer.bytes
  buffer.remember('a', at(4), event(4, 'message.deleted', { id: x, channelId: 'a' }))
  buffer.revise('a', at(4), { id: x, deleted: true })
  t.same(buffer.window('a', E)!.events.map((e) => JSON.parse(e.frame).type), ['message.deleted', 'message.created', 'message.deleted', 'message.deleted', 'message.deleted'])
  t.same(buffer.window('a', E)!.events.map((e) => e.offset), ['0', '1', '2', '3', '4'], 'offsets stay')
  t.ok(buffer.bytes < before + Buffer.byteLength(event(4, 'message.deleted', { id: x, channelId: 'a' })), 'the byte count follows the shorter frames')
})
