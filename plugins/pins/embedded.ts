// Pins in process (embedded mode): one map per channel, message id → its last change.
import type { PinRecord, PinStore, PinUpdate } from './pins.ts'

export function createEmbeddedPinStore (): PinStore {
  const channels = new Map<string, Map<string, PinUpdate>>()
  return {
    kind: 'embedded',
    async apply (update) {
      let pins = channels.get(update.channelId)
      if (!pins) channels.set(update.channelId, pins = new Map())
      const last = pins.get(update.messageId)
      if (last && last.version >= update.version) return false
      // pinned again: who pinned it and when stay the first pin's, only the version moves
      pins.set(update.messageId, last?.pinned && update.pinned ? { ...last, version: update.version } : { ...update })
      return true
    },
    async list (channelId): Promise<PinRecord[]> {
      return [...channels.get(channelId)?.values() ?? []]
        .filter((p) => p.pinned)
        .sort((a, b) => (a.at === b.at ? b.version - a.version : a.at < b.at ? 1 : -1))
        .map((p) => ({ channelId: p.channelId, messageId: p.messageId, pinnedBy: p.userId ?? '', pinnedAt: p.at, version: p.version }))
    },
    async ping () {},
    async close () {}
  }
}
