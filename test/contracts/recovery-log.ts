// The shared recovery log contract, run against every implementation (embedded and Redis).
import type { Test } from 'tap'
import type { RecoveryLog } from '../../plugins/recovery/index.ts'

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

  t.test('a new epoch starts the channel over', async (t) => {
    const log = await make({ size: 5 })
    const [a, old, epoch] = [unique(), unique(), unique()]
    await feed(log, old, 40, [a, a])
    await feed(log, epoch, 3, [a])
    t.same(await log.read(a), { epoch, floor: '2', high: '3', events: frames(3) })
  })
}
