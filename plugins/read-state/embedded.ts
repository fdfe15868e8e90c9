// In-memory read state with the MongoDB store's semantics (tests, and the embedded mode).
import type { Position } from '../../schemas/message.ts'
import { applyChange, comparePositions, sameRecord, type IndexedMessage, type Marker, type ReadStateStore } from './store.ts'

type Stored = Marker & { applied?: Position }

export function createEmbeddedReadState (): ReadStateStore {
  const markers = new Map<string, Map<string, Stored>>() // userId → channelId → marker
  const byChannel = new Map<string, Map<string, Stored>>() // channelId → userId → marker
  const messages = new Map<string, IndexedMessage & { deleted?: boolean }>()
  const channels = new Map<string, Array<IndexedMessage & { deleted?: boolean }>>() // in stream order
  const off = new Set<string>()
  const put = (m: Stored) => {
    const own = markers.get(m.userId) ?? new Map<string, Stored>()
    own.set(m.channelId, m)
    markers.set(m.userId, own)
    const readers = byChannel.get(m.channelId) ?? new Map<string, Stored>()
    readers.set(m.userId, m)
    byChannel.set(m.channelId, readers)
  }
  const get = (userId: string, channelId: string) => markers.get(userId)?.get(channelId)
  const visible = ({ applied: _a, ...m }: Stored): Marker => structuredClone(m)
  /** The channel's messages after `position` (same epoch), from a binary search: never the whole history. */
  function * after (channelId: string, position: Position | null) {
    const list = channels.get(channelId) ?? []
    let lo = 0
    let hi = position ? list.length : 0
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (comparePositions(list[mid].position, position!) <= 0) lo = mid + 1
      else hi = mid
    }
    for (let i = lo; i < list.length; i++) if (position === null || list[i].position.epoch === position.epoch) yield list[i]
  }

  return {
    kind: 'embedded',
    async mark (changes) {
      const moved: Marker[] = []
      for (const change of changes) {
        const current = get(change.userId, change.channelId)
        if (sameRecord(current, change)) { moved.push(visible(current!)); continue }
        const next = applyChange(current, change)
        if (!next) continue
        put(structuredClone(next))
        moved.push(visible(next))
      }
      return moved
    },
    async ensure (list) {
      for (const m of list) if (!get(m.userId, m.channelId)) put(structuredClone({ ...m, implicit: true }))
    },
    async markers (userId) {
      return [...markers.get(userId)?.values() ?? []].map(visible)
    },
    async index (changes) {
      for (const change of changes) {
        if (change.type === 'create') {
          if (messages.has(change.message.id)) continue
          const m = structuredClone(change.message)
          messages.set(m.id, m)
          const list = channels.get(m.channelId) ?? []
          let i = list.length
          while (i > 0 && comparePositions(list[i - 1].position, m.position) > 0) i--
          list.splice(i, 0, m)
          channels.set(m.channelId, list)
        } else {
          const m = messages.get(change.id)
          if (m) m.deleted = true
          else messages.set(change.id, { id: change.id, channelId: '', senderId: '', position: { epoch: '', offset: '0' }, mentions: [], deleted: true })
        }
      }
    },
    async head (channelId) {
      const last = channels.get(channelId)?.at(-1)
      return last ? { messageId: last.id, position: structuredClone(last.position) } : null
    },
    async count (channelId, userId, position, max) {
      // from the marker on (never the history before it); stops once both counts passed the cap
      let unread = 0
      let mentions = 0
      for (const m of after(channelId, position)) {
        if (m.deleted) continue
        if (m.senderId !== userId && m.parentId === undefined) unread++
        if (m.mentions.includes(userId)) mentions++
        if (unread > max && mentions > max) break
      }
      return { unread: Math.min(unread, max + 1), mentions: Math.min(mentions, max + 1) }
    },
    async readers (channelId, max) {
      return Math.min(byChannel.get(channelId)?.size ?? 0, max + 1)
    },
    async readBy (channelId, position, max) {
      return [...byChannel.get(channelId)?.values() ?? []]
        .filter((m) => !off.has(m.userId) && m.position !== null && m.position.epoch === position.epoch && comparePositions(m.position, position) >= 0)
        .slice(0, max)
        .map(visible)
    },
    async receiptsOff (userIds) {
      return new Set(userIds.filter((u) => off.has(u)))
    },
    async setReceipts (userId, on) {
      if (on) off.delete(userId)
      else off.add(userId)
    },
    async ping () {},
    async close () {}
  }
}
