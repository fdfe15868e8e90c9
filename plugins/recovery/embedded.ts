// The shared recovery log in process: the same window bookkeeping as the fanout's own buffer, so the
// proof rules are the same (a channel it dropped moves its partition's proof past it; no TTL needed).
import { RecoveryBuffer } from './buffer.ts'
import type { ChannelWindow, ReadRange, RecoveryLog, RecoveryLogOptions } from './recovery-log.ts'

export function createEmbeddedRecoveryLog (options: RecoveryLogOptions & { maxChannels?: number }): RecoveryLog {
  const buffer = new RecoveryBuffer({ size: options.size, maxChannels: options.maxChannels })
  const log: RecoveryLog = {
    kind: 'embedded',
    async append (channel, position, frame, revision) {
      buffer.remember(channel, position, frame)
      if (revision) buffer.revise(channel, position, revision)
    },
    async appendBatch (entries) {
      for (const { channel, position, frame, revision } of entries) await log.append(channel, position, frame, revision)
    },
    async read (channel, range) {
      const window = buffer.latest(channel)
      if (!window) return null
      return range ? narrow(window, range) : { ...window, events: [...window.events] }
    }
  }
  return log
}

/** What `read` with a range answers from a whole window (the Redis log does the same in its script). */
export function narrow (window: ChannelWindow, { since, upTo, maxBytes = Infinity }: ReadRange): ChannelWindow {
  const { epoch, floor, high } = window
  const from = BigInt(since.offset)
  if (epoch !== since.epoch || from < BigInt(floor)) return { epoch, floor, high, events: [] }
  const top = upTo !== undefined && BigInt(upTo) < BigInt(high) ? upTo : high
  const events = window.events.filter((e) => BigInt(e.offset) > from && BigInt(e.offset) <= BigInt(top))
  let bytes = 0
  for (const e of events) bytes += Buffer.byteLength(e.frame)
  if (bytes > maxBytes) return { epoch, floor: high, high, events: [], overBudget: true }
  return { epoch, floor: from < BigInt(top) ? since.offset : top, high: top, events }
}
