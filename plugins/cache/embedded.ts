// In-memory cache with the same semantics as Redis's: recent-N per channel, TTL refreshed on write.
import { compareOffsets, deletedParent, inChannel, type HistoryMessage, type Message, type Position } from '../../schemas/message.ts'
import { CACHE_DEFAULTS, emptied, revised, type CacheOptions, type CacheStats, type MessageCache } from './cache.ts'

/**
 * One channel. The range it covers: every message of the channel with an id at or above `floor` is
 * cached (or was removed), and nothing below it is cached; `complete`: the whole history is (no
 * floor). `filled`: the lowest id the fill in progress inserted (see `insert` and `trim`).
 * `patched`: changes to messages that are not cached, applied (and cleared) when a fill brings the
 * message; `versions`: the position of the last edit applied to a message, cached or parked, so an
 * older (redelivered) edit changes nothing.
 */
interface Entry {
  ids: string[]
  messages: Map<string, HistoryMessage>
  complete: boolean
  floor?: string
  filled?: string
  gone: Set<string>
  patched: Map<string, Partial<Message>>
  versions: Map<string, Position>
  expires: number
}

/** True when `position` comes after `last` in the stream (another epoch: a newer stream). */
function newer (position: Position, last: Position | undefined): boolean {
  return !last || last.epoch !== position.epoch || compareOffsets(position.offset, last.offset) > 0
}

/** The lowest of a set of ids (ObjectId hex sorts by time: the oldest). */
function lowest (ids: Iterable<string>): string {
  let low: string | undefined
  for (const id of ids) if (low === undefined || id < low) low = id
  return low!
}

export function createEmbeddedCache (options: CacheOptions, now: () => number = Date.now): MessageCache {
  const channels = new Map<string, Entry>()
  const { tombstones: maxTombstones, parked: maxParked } = { ...CACHE_DEFAULTS, ...options }
  const stats: CacheStats = { tombstonesTrimmed: 0, parkedTrimmed: 0 }

  function entry (channelId: string, create: boolean): Entry | undefined {
    let e = channels.get(channelId)
    if (e && e.expires <= now()) {
      channels.delete(channelId)
      e = undefined
    }
    if (!e && create) {
      e = { ids: [], messages: new Map(), complete: false, gone: new Set(), patched: new Map(), versions: new Map(), expires: 0 }
      channels.set(channelId, e)
    }
    if (e && create) e.expires = now() + options.ttlSeconds * 1000
    return e
  }

  // ids are kept ascending; insertion is at the sorted place (usually the end)
  function add (e: Entry, message: HistoryMessage) {
    if (!e.messages.has(message.id)) {
      let i = e.ids.length
      while (i > 0 && e.ids[i - 1] > message.id) i--
      e.ids.splice(i, 0, message.id)
    }
    e.messages.set(message.id, structuredClone(message))
  }

  /**
   * A fill's insert. The parked changes were merged into `message` by the fill, so they are done.
   * The fill read the store's newest page: every stored message at or above the lowest id it brings
   * is in it, but what the cache held below may lack messages the store had and the cache handler
   * has not reached yet. So the entry now covers only from that id (`trim` cuts below it, at the end
   * of the fill), unless the fill says it holds the whole history (it then sets `complete` again).
   */
  function insert (e: Entry, message: HistoryMessage) {
    add(e, message)
    e.patched.delete(message.id)
    e.complete = false
    if (e.filled === undefined || message.id < e.filled) e.filled = message.id
  }

  /** Drops the messages below `floor`, which becomes the entry's floor. */
  function cut (e: Entry, floor: string) {
    while (e.ids.length > 0 && e.ids[0] < floor) {
      const id = e.ids.shift()!
      e.messages.delete(id)
      e.versions.delete(id)
    }
    e.floor = floor
  }

  /**
   * After every write: the end of a fill (its range), the newest `recent` (the floor follows), and
   * the bounds on tombstones and parked patches, lowest ids (the oldest messages) first: a fill
   * brings the newest messages, so those are the ones whose deletion or edit it could miss.
   */
  function trim (e: Entry) {
    if (e.filled !== undefined) {
      if (e.complete) e.floor = undefined
      else cut(e, e.filled)
      e.filled = undefined
    }
    if (e.ids.length > options.recent) {
      cut(e, e.ids[e.ids.length - options.recent])
      e.complete = false
    }
    while (e.gone.size > maxTombstones) {
      e.gone.delete(lowest(e.gone))
      stats.tombstonesTrimmed++
    }
    while (e.patched.size > maxParked) {
      const id = lowest(e.patched.keys())
      e.patched.delete(id)
      e.versions.delete(id)
      stats.parkedTrimmed++
    }
  }

  /**
   * The cache handler's insert: a message not cached and not removed, with its parked changes. Only
   * within the entry's range: below its floor a message between it and the floor may be missing (a
   * fill from a store ahead of this handler set the floor), so the cache leaves that range to the
   * store. A channel with no range yet starts one at this message.
   */
  function create (e: Entry, message: Message) {
    if (!inChannel(message)) return // a reply only in its thread
    if (e.messages.has(message.id) || e.gone.has(message.id)) return // a redelivered create changes nothing
    if (!e.complete) {
      e.floor ??= e.ids[0] ?? message.id
      if (message.id < e.floor) return
    }
    add(e, { ...message, ...e.patched.get(message.id) })
    e.patched.delete(message.id)
  }

  /** An edit (positioned: only when newer than the last one applied) or a reaction patch (not positioned). */
  function edit (e: Entry, id: string, changes: Partial<Message>, position?: Position) {
    if (e.gone.has(id)) return
    if (position) {
      if (!newer(position, e.versions.get(id))) return
      e.versions.set(id, position)
    }
    const m = e.messages.get(id)
    if (m) {
      e.messages.set(id, revised(m, structuredClone(changes)))
      e.patched.delete(id)
      if (emptied(e.messages.get(id)!)) remove(e, id) // a deleted parent's last reply went: it leaves history
    } else {
      e.patched.set(id, { ...e.patched.get(id), ...structuredClone(changes) })
    }
  }

  function remove (e: Entry, id: string) {
    const m = e.messages.get(id)
    const placeholder = m && deletedParent(m)
    if (placeholder) {
      // as the store: the thread stays readable (the entry keeps it, so no fill or create brings the text back)
      e.messages.set(id, placeholder)
      e.patched.delete(id)
      return
    }
    e.gone.add(id)
    e.patched.delete(id)
    e.versions.delete(id)
    if (e.messages.delete(id)) e.ids.splice(e.ids.indexOf(id), 1)
  }

  const cache: MessageCache = {
    kind: 'embedded',
    stats,
    async upsert (message) {
      const e = entry(message.channelId, true)!
      create(e, message)
      trim(e)
    },
    async apply (changes) {
      const touched = new Set<Entry>()
      for (const change of changes) {
        const e = entry(change.type === 'create' ? change.message.channelId : change.channelId, true)!
        touched.add(e)
        if (change.type === 'create') create(e, { ...change.message, position: change.position })
        else if (change.type === 'update') edit(e, change.id, change.changes, change.position)
        else remove(e, change.id)
      }
      for (const e of touched) trim(e) // once per channel and batch, as on Redis
    },
    async patch (channelId, id, changes) {
      const e = entry(channelId, true)!
      edit(e, id, changes)
      trim(e)
    },
    async remove (channelId, id) {
      const e = entry(channelId, true)!
      remove(e, id)
      trim(e)
    },
    async fill (channelId, messages, complete) {
      // Nothing to add and nothing learnt: no entry. (A complete empty fill is a real state, "this
      // channel has no messages", and is kept; the history route never makes one for an empty page.)
      if (messages.length === 0 && !complete) return
      const e = entry(channelId, true)!
      for (const m of messages) {
        // a placeholder even if removed here: it has no text, and the store keeps it
        if (e.messages.has(m.id) || (e.gone.has(m.id) && !m.deleted)) continue
        e.gone.delete(m.id)
        insert(e, revised(m, e.patched.get(m.id) ?? {}))
      }
      if (complete) e.complete = true
      trim(e)
    },
    async page (channelId, { before, limit }) {
      const e = entry(channelId, false)
      if (!e) return null
      let end = e.ids.length
      if (before !== undefined) while (end > 0 && e.ids[end - 1] >= before) end--
      if (end < limit && !e.complete) return null
      const ids = e.ids.slice(Math.max(0, end - limit), end).reverse()
      return ids.map((id) => structuredClone(e.messages.get(id)!))
    },
    async ping () {},
    async close () { channels.clear() }
  }
  return cache
}
