// Pin reservations in process (embedded mode, one instance): per channel, its clock and the
// pinned message ids with their latest version. Every call runs to completion before another
// starts (no await inside), which is what makes it atomic.
import type { PinReservations } from './reservations.ts'

export function createEmbeddedPinReservations (): PinReservations {
  const channels = new Map<string, { clock: number, pinned: Map<string, number> }>()
  const tick = (channel: { clock: number }, nowMicros: number) => (channel.clock = Math.max(channel.clock + 1, nowMicros))
  return {
    kind: 'embedded',
    async pin (channelId, messageId, max, nowMicros) {
      const channel = channels.get(channelId)
      if (!channel) return { outcome: 'unloaded' }
      const held = channel.pinned.has(messageId)
      if (!held && channel.pinned.size >= max) return { outcome: 'full' }
      const version = tick(channel, nowMicros)
      channel.pinned.set(messageId, version)
      return { outcome: held ? 'held' : 'new', version }
    },
    async stamp (channelId, messageId, nowMicros) {
      const channel = channels.get(channelId)
      if (!channel) return { outcome: 'unloaded' }
      const version = tick(channel, nowMicros)
      if (!channel.pinned.has(messageId)) return { outcome: 'absent', version }
      channel.pinned.set(messageId, version)
      return { outcome: 'held', version }
    },
    async release (channelId, messageId, version) {
      const pinned = channels.get(channelId)?.pinned
      if (pinned?.get(messageId) !== version) return false
      return pinned.delete(messageId)
    },
    async load (channelId, pinned) {
      if (channels.has(channelId)) return
      channels.set(channelId, { clock: Math.max(0, ...pinned.values()), pinned: new Map(pinned) })
    },
    async count (channelId) { return channels.get(channelId)?.pinned.size ?? 0 }
  }
}
