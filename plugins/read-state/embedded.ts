// In-memory read state with the MongoDB store's semantics (tests, and the embedded mode).
import type { Position } from '../../schemas/message.ts'
import { applyChange, comparePositions, sameRecord, type Counts, type IndexedMessage, type Marker, type ReadStateStore } from './store.ts'
import { deletedIds, fold, mentionKey, mentionKeys, type ChannelCounter, type IndexEntry, type MentionList } from './sequence.ts'
import { countsAt, refOf } from './counts.ts'

type Stored = Marker & { applied?: Position }

/** `unreadMax`: UNREAD_MAX, how many mentions each list keeps beyond it (one more, to tell "more"). */
export function createEmbeddedReadState ({ unreadMax = 999 }: { unreadMax?: number } = {}): ReadStateStore {
  const markers = new Map<string, Map<string, Stored>>() // userId → channelId → marker
  const byChannel = new Map<string, Map<string, Stored>>() // channelId → userId → marker
  const messages = new Map<string, IndexedMessage & { deleted?: boolean }>()
  const channels = new Map<string, Array<IndexedMessage & { deleted?: boolean }>>() // in stream order
  const off = new Set<string>()
  const entries = new Map<string, IndexEntry>()
  const counters = new Map<string, ChannelCounter>()
  const mentionLists = new Map<string, MentionList>()
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

  async function ensure (list: Marker[]) {
    for (const m of list) if (!get(m.userId, m.channelId)) put(structuredClone({ ...m, implicit: true }))
  }
  async function count (channelId: string, userId: string, position: Position | null, max: number): Promise<Counts> {
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
    ensure,
    async markers (userId) {
      return [...markers.get(userId)?.values() ?? []].map(visible)
    },
    async index (changes) {
      if (changes.length === 0) return
      const known = new Map(deletedIds(changes).flatMap((id) => entries.has(id) ? [[id, entries.get(id)!] as const] : []))
      const lists = new Map(mentionKeys(changes, known).flatMap((k) => mentionLists.has(k) ? [[k, mentionLists.get(k)!] as const] : []))
      const folded = fold(changes, { counters, known, mentions: lists, keep: unreadMax + 1 })
      for (const e of folded.entries) {
        if (entries.has(e.id)) continue
        entries.set(e.id, structuredClone(e))
        // the fallback count's list, in stream order
        const m: IndexedMessage & { deleted?: boolean } = { id: e.id, channelId: e.channelId, senderId: e.senderId, position: { epoch: e.epoch, offset: String(e.offset) }, mentions: e.mentions, ...(e.parentId !== undefined ? { parentId: e.parentId } : {}) }
        messages.set(m.id, m)
        const list = channels.get(m.channelId) ?? []
        let i = list.length
        while (i > 0 && comparePositions(list[i - 1].position, m.position) > 0) i--
        list.splice(i, 0, m)
        channels.set(m.channelId, list)
      }
      for (const id of folded.deletions) {
        const m = messages.get(id)
        if (m) m.deleted = true
        const e = entries.get(id)
        if (e) e.deleted = true
      }
      for (const l of folded.mentions) mentionLists.set(mentionKey(l.userId, l.channelId), structuredClone(l))
      await ensure(folded.defaults)
      for (const f of folded.forwards) {
        const current = get(f.userId, f.channelId)
        if (!current) put({ ...structuredClone(f), implicit: true })
        else if (comparePositions(f.position, current.position) > 0) put({ ...current, messageId: f.messageId, position: structuredClone(f.position), readAt: f.readAt, seq: f.seq, ref: undefined })
      }
      for (const c of folded.counters) counters.set(c.channelId, structuredClone(c))
    },
    async head (channelId) {
      const c = counters.get(channelId)
      if (c?.head) return { messageId: c.head.messageId, position: { epoch: c.epoch, offset: String(c.head.offset) }, seq: c.seq }
      const last = channels.get(channelId)?.at(-1)
      return last ? { messageId: last.id, position: structuredClone(last.position) } : null
    },
    async unread (userId, list, max) {
      const counts = new Map<string, Counts>()
      for (const m of list) {
        const ref = refOf(m)
        const c = countsAt(m, counters.get(m.channelId), ref && entries.get(ref.messageId), mentionLists.get(mentionKey(userId, m.channelId)), max)
        counts.set(m.channelId, c ?? await count(m.channelId, userId, m.position, max))
      }
      return counts
    },
    count,
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
