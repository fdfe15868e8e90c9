// The shared recovery log in process: the same window bookkeeping as the fanout's own buffer, so the
// proof rules are the same (a channel it dropped moves its partition's proof past it; no TTL needed).
import { RecoveryBuffer } from '../../fanout/recovery-buffer.ts'
import type { RecoveryLog, RecoveryLogOptions } from './recovery-log.ts'

export function createEmbeddedRecoveryLog (options: RecoveryLogOptions & { maxChannels?: number }): RecoveryLog {
  const buffer = new RecoveryBuffer({ size: options.size, maxChannels: options.maxChannels })
  return {
    kind: 'embedded',
    async append (channel, position, frame) { buffer.remember(channel, position, frame) },
    async appendBatch (entries) { for (const { channel, position, frame } of entries) buffer.remember(channel, position, frame) },
    async read (channel) {
      const window = buffer.latest(channel)
      return window && { ...window, events: [...window.events] }
    }
  }
}
