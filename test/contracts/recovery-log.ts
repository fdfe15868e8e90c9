// The shared recovery log contract, run against every implementation (embedded and Redis).
import type { Test } from 'tap'
import type { RecoveryLog } from '../../plugins/recovery/index.ts'
import { frames as build } from '../../fanout/protocol.ts'

export type MakeRecoveryLog = (opts: { size: number }) => Promise<RecoveryLog>

const at = (epoch: string, offset: number) => ({ epoch, offset: String(offset) })
const frames = (...offsets: number[]) => offsets.map((offset) => ({ offset: String(offset), frame: `{"op":"event","n":${offset}}` }))

export function recoveryLogContract (t: Test, make: MakeRecoveryLog, unique: () => string) {
  /** Appends `channels[i]` at offset `start + i` of `epoch`. */
  const feed = async (log: RecoveryLog, epoch: string, start: number, channels: string[]) => {
    for (const [i, channel] of channels.entries()) await log.append(channel, at(epoch, start + i), `{"op":"event","n":${start + i}}`)
  }

  t.test('a channel never written is unknown', async (t) => {
    const log = await make({ size: 5 })
    t.equal(await log.read(unique()), null)
  })

  t.test('keeps the channel\'s newest events with the window that proves them complete', async (t) => {
    const log = await make({ size: 3 })
    const [a, b, epoch] = [unique(), unique(), unique()]
    await feed(log, epoch, 7, [a, b, a, a, b, a])
    t.same(await log.read(a), { epoch, floor: '7', high: '12', events: frames(9, 10, 12) }, 'offset 7 was trimmed: the floor')
    const other = await log.read(b)
    t.same(other && { ...other, floor: undefined }, { epoch, floor: undefined, high: '12', events: frames(8, 11) })
    // Sound either way: the log saw offset 7 (not b's), so it may prove from 6; it must not go lower.
    t.ok(other?.floor === '6' || other?.floor === '7', `b's floor is 6 or 7 (got ${other?.floor})`)
  })

  t.test('a redelivered offset changes nothing', async (t) => {
    const log = await make({ size: 5 })
    const [a, epoch] = [unique(), unique()]
    await feed(log, epoch, 0, [a, a])
    await log.append(a, at(epoch, 1), 'duplicate')
    await log.append(a, at(epoch, 0), 'duplicate')
    t.same(await log.read(a), { epoch, floor: '-1', high: '1', events: frames(0, 1) })
  })

  t.test('a hole in the partition\'s offsets limits every channel\'s proof', async (t) => {
    const log = await make({ size: 5 })
    const [a, epoch] = [unique(), unique()]
    await feed(log, epoch, 0, [a, a])
    await feed(log, epoch, 4, [a])
    t.same(await log.read(a), { epoch, floor: '3', high: '4', events: frames(0, 1, 4) }, 'offsets 2-3 were never seen')
  })

  t.test('edits and deletions revise their message\'s earlier frames: a read serves current state at the same offsets', async (t) => {
    const log = await make({ size: 10 })
    const [a, epoch] = [unique(), unique()]
    const [x, y] = ['aaaaaaaaaaaaaaaaaaaaaaa1', 'aaaaaaaaaaaaaaaaaaaaaaa2']
    const frame = (offset: number, type: string, data: object) => build.event(a, type, data, at(epoch, offset))
    const created = (offset: number, id: string, content: string) => frame(offset, 'message.created', { id, channelId: a, senderId: 'u1', content, position: at(epoch, offset) })
    const edited = (offset: number, id: string, content: string) => frame(offset, 'message.updated', { id, channelId: a, content, editedAt: `t${offset}` })
    const deleted = (offset: number, id: string) => frame(offset, 'message.deleted', { id, channelId: a })
    await log.appendBatch([
      { channel: a, position: at(epoch, 0), frame: created(0, x, 'SECRET') },
      { channel: a, position: at(epoch, 1), frame: created(1, y, 'draft') },
      { channel: a, position: at(epoch, 2), frame: edited(2, x, 'SECRET 2'), revision: { id: x, content: 'SECRET 2', editedAt: 't2' } },
      { channel: a, position: at(epoch, 3), frame: edited(3, y, 'final'), revision: { id: y, content: 'final', editedAt: 't3' } },
      { channel: a, position: at(epoch, 4), frame: deleted(4, x), revision: { id: x, deleted: true } }
    ])
    const window = await log.read(a)
    t.same(window?.events.map((e) => e.offset), ['0', '1', '2', '3', '4'], 'every offset is still there')
    t.same(window?.events.map((e) => JSON.parse(e.frame)), [
      JSON.parse(deleted(0, x)),
      { ...JSON.parse(created(1, y, 'final')), data: { ...JSON.parse(created(1, y, 'final')).data, editedAt: 't3' } },
      JSON.parse(deleted(2, x)),
      JSON.parse(edited(3, y, 'final')),
      JSON.parse(deleted(4, x))
    ], 'the deleted message is a deletion everywhere, the edited one carries its current text')
    t.notMatch(window?.events.map((e) => e.frame).join(''), 'SECRET', 'no trace of the deleted text')
  })

  t.test('a read with a range reads only what a replay after since needs, and nothing it cannot prove', async (t) => {
    const log = await make({ size: 5 })
    const [a, epoch] = [unique(), unique()]
    await feed(log, epoch, 10, Array(10).fill(a)) // offsets 10-19; 10-14 trimmed: floor 14
    t.same(await log.read(a, { since: at(epoch, 3) }), { epoch, floor: '14', high: '19', events: [] }, 'since before the floor: the log\'s window and no events')
    t.same((await log.read(a, { since: at('other', 16) }))?.events ?? [], [], 'since in another epoch: no events (or nothing known)')
    t.same(await log.read(a, { since: at(epoch, 16) }), { epoch, floor: '16', high: '19', events: frames(17, 18, 19) }, 'only the events after since')
    t.same(await log.read(a, { since: at(epoch, 14), upTo: '17' }), { epoch, floor: '14', high: '17', events: frames(15, 16, 17) }, 'and up to upTo')
    const bytes = frames(15, 16).reduce((n, f) => n + Buffer.byteLength(f.frame), 0)
    t.same((await log.read(a, { since: at(epoch, 14), upTo: '16', maxBytes: bytes }))?.events, frames(15, 16), 'within maxBytes')
    t.same(await log.read(a, { since: at(epoch, 14), maxBytes: bytes }), { epoch, floor: '19', high: '19', events: [], overBudget: true }, 'over maxBytes: nothing read, nothing proven')
    t.equal(await log.read(unique(), { since: at(epoch, 14) }), null, 'an unknown channel')
  })

  t.test('a new epoch starts the channel over', async (t) => {
    const log = await make({ size: 5 })
    const [a, old, epoch] = [unique(), unique(), unique()]
    await feed(log, old, 40, [a, a])
    await feed(log, epoch, 3, [a])
    t.same(await log.read(a), { epoch, floor: '2', high: '3', events: frames(3) })
  })
}
