// The fold that numbers each channel's messages, shared by both stores (docs/chat-state.md, "How it
// counts"). A channel's sequence number is the count of its countable messages (not thread replies)
// so far; each indexed message takes the number at it (a reply: the number of the countable message
// before it). The fold is a pure function of the stored state and the batch, so a replay, or a batch
// retried after a crash between its writes, comes to the same numbers.
import type { Position } from '../../schemas/message.ts'
import { before, type IndexChange, type Marker } from './store.ts'

/** How many of a channel's deleted countable messages its counter keeps (the newest by number). */
export const DELETED_KEPT = 100

/** A channel's counter. `last`: the offset of the last change it took; `deleted`: numbers, ascending. */
export interface ChannelCounter { channelId: string, epoch: string, seq: number, last: number, head: { messageId: string, offset: number } | null, deleted: number[] }
/** One user's mentions in one channel: the offsets (ascending, at most `keep`) of the messages mentioning them. */
export interface MentionList { userId: string, channelId: string, epoch: string, last: number, offsets: number[] }
/** A message as indexed: `seq` is absent on entries indexed before sequence numbers existed. */
export interface IndexEntry { id: string, channelId: string, senderId: string, epoch: string, offset: number, seq?: number, mentions: string[], parentId?: string, deleted?: boolean }

export interface Folded {
  /** new messages to index (a stored one is left as it is) */
  entries: IndexEntry[]
  /** messages to flag deleted */
  deletions: string[]
  mentions: MentionList[]
  /** stored only where the user has no marker */
  defaults: Marker[]
  /** the senders' own posts: forward only */
  forwards: Marker[]
  /** written last: a crash before them replays the batch, which comes to the same writes */
  counters: ChannelCounter[]
}

export const mentionKey = (userId: string, channelId: string) => `${userId}\n${channelId}`

/** The mention lists a batch touches: its new messages' mentions, and those of the messages it deletes. */
export function mentionKeys (changes: IndexChange[], known: Map<string, IndexEntry>): string[] {
  const keys = new Set<string>()
  const created = new Map<string, { channelId: string, mentions: string[] }>()
  for (const c of changes) {
    if (c.type === 'create') {
      created.set(c.message.id, c.message)
      for (const u of c.message.mentions) keys.add(mentionKey(u, c.message.channelId))
    } else if (c.type === 'delete') {
      const m = created.get(c.id) ?? known.get(c.id)
      for (const u of m?.mentions ?? []) keys.add(mentionKey(u, c.channelId))
    }
  }
  return [...keys]
}

/** The ids of the messages a batch deletes (their entries are read before the fold). */
export const deletedIds = (changes: IndexChange[]) => changes.flatMap((c) => c.type === 'delete' ? [c.id] : [])

const epochOf = (c: IndexChange): Position => c.type === 'create' ? c.message.position : c.position

/**
 * Folds a batch in stream order over the stored counters, mention lists and the entries of the
 * messages it deletes. Each counter and list takes only changes after its own `last`.
 */
export function fold (changes: IndexChange[], stored: { counters: Map<string, ChannelCounter>, known: Map<string, IndexEntry>, mentions: Map<string, MentionList>, keep: number }): Folded {
  const counters = new Map<string, ChannelCounter>()
  const lists = new Map<string, MentionList>()
  const known = new Map(stored.known)
  const out: Folded = { entries: [], deletions: [], mentions: [], defaults: [], forwards: [], counters: [] }
  const defaults = new Map<string, Marker>() // the first per user and channel in the batch
  const forwards = new Map<string, Marker>() // the last
  const byDefault = (m: Marker) => { const key = mentionKey(m.userId, m.channelId); if (!defaults.has(key)) defaults.set(key, m) }
  const counterOf = (channelId: string, epoch: string): ChannelCounter => {
    let c = counters.get(channelId)
    if (!c) {
      const s = stored.counters.get(channelId)
      // a new epoch (the topic was re-created) numbers its channel from 0 again
      c = s && s.epoch === epoch ? structuredClone(s) : { channelId, epoch, seq: 0, last: -1, head: null, deleted: [] }
      counters.set(channelId, c)
    }
    return c
  }
  const listOf = (userId: string, channelId: string, epoch: string): MentionList => {
    const key = mentionKey(userId, channelId)
    let l = lists.get(key)
    if (!l) {
      const s = stored.mentions.get(key)
      l = s && s.epoch === epoch ? structuredClone(s) : { userId, channelId, epoch, last: -1, offsets: [] }
      lists.set(key, l)
    }
    return l
  }

  for (const change of changes) {
    const { epoch, offset: raw } = epochOf(change)
    const offset = Number(raw)
    const channelId = change.type === 'create' ? change.message.channelId : change.channelId
    const counter = counterOf(channelId, epoch)
    if (offset <= counter.last) continue // taken before: a replay
    counter.last = offset
    if (change.type === 'create') {
      const m = change.message
      const countable = m.parentId === undefined
      if (countable) counter.seq++
      const entry: IndexEntry = { id: m.id, channelId, senderId: m.senderId, epoch, offset, seq: counter.seq, mentions: m.mentions, ...(m.parentId !== undefined ? { parentId: m.parentId } : {}) }
      out.entries.push(entry)
      known.set(m.id, entry)
      counter.head = { messageId: m.id, offset }
      for (const userId of m.mentions) {
        // a first mention: the channel counts as read up to just before it, so the mention counts
        byDefault({ userId, channelId, messageId: null, position: before(m.position), readAt: change.at, seq: countable ? counter.seq - 1 : counter.seq })
        const list = listOf(userId, channelId, epoch)
        if (offset <= list.last) continue // this list took it before a crash
        list.last = offset
        list.offsets = [...list.offsets, offset].slice(-stored.keep)
      }
      const own: Marker = { userId: m.senderId, channelId, messageId: m.id, position: m.position, readAt: change.at, seq: counter.seq }
      // posting in a channel reads it (as Slack and Discord do): own posts never count; a reply only places a default
      if (countable) forwards.set(mentionKey(m.senderId, channelId), own)
      else byDefault(own)
    } else if (change.type === 'delete') {
      out.deletions.push(change.id)
      const m = known.get(change.id)
      if (!m || m.channelId !== channelId || m.epoch !== epoch) continue // unknown here: nothing to take back
      if (m.parentId === undefined && m.seq !== undefined && !counter.deleted.includes(m.seq)) {
        // the newest numbers kept: re-adding one that fell off drops it again (idempotent)
        counter.deleted = [...counter.deleted, m.seq].sort((a, b) => a - b).slice(-DELETED_KEPT)
      }
      for (const userId of m.mentions) {
        const list = listOf(userId, channelId, epoch)
        if (offset <= list.last) continue
        list.last = offset
        list.offsets = list.offsets.filter((o) => o !== m.offset)
      }
    } else {
      for (const userId of change.members) byDefault({ userId, channelId, messageId: null, position: change.position, readAt: change.at, seq: counter.seq })
    }
  }
  out.mentions = [...lists.values()].filter((l) => l.last > (stored.mentions.get(mentionKey(l.userId, l.channelId))?.last ?? -1) || l.epoch !== stored.mentions.get(mentionKey(l.userId, l.channelId))?.epoch)
  out.counters = [...counters.values()].filter((c) => c.last > (stored.counters.get(c.channelId)?.last ?? -1) || c.epoch !== stored.counters.get(c.channelId)?.epoch)
  out.defaults = [...defaults.values()]
  out.forwards = [...forwards.values()]
  return out
}
