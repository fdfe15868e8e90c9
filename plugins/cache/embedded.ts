// In-memory cache with the same semantics as Redis's: recent-N per channel, TTL refreshed on write.
import type { Message } from '../../schemas/message.ts'
import type { CacheOptions, MessageCache } from './cache.ts'

interface Entry { ids: string[], messages: Map<string, Message>, complete: boolean, gone: Set<string>, patched: Map<string, Partial<Message>>, expires: number }

export function createEmbeddedCache (options: CacheOptions, now: () => number = Date.now): MessageCache {
  const channels = new Map<string, Entry>()

  function entry (channelId: string, create: boolean): Entry | undefined {
    let e = channels.get(channelId)
    if (e && e.expires <= now()) {
      channels.delete(channelId)
      e = undefined
    }
    if (!e && create) {
      e = { ids: [], messages: new Map(), complete: false, gone: new Set(), patched: new Map(), expires: 0 }
      channels.set(channelId, e)
    }
    if (e && create) e.expires = now() + options.ttlSeconds * 1000
    return e
  }

  // ids are kept ascending; insertion is at the sorted place (usually the end)
  function insert (e: Entry, message: Message) {
    if (!e.messages.has(message.id)) {
      let i = e.ids.length
      while (i > 0 && e.ids[i - 1] > message.id) i--
      e.ids.splice(i, 0, message.id)
    }
    e.messages.set(message.id, structuredClone(message))
  }

  function trim (e: Entry) {
    while (e.ids.length > options.recent) {
      e.messages.delete(e.ids.shift()!)
      e.complete = false
    }
  }

  const cache: MessageCache = {
    kind: 'embedded',
    async upsert (message) {
      await cache.fill(message.channelId, [message], false)
    },
    async apply (changes) {
      for (const change of changes) {
        if (change.type === 'create') await cache.fill(change.message.channelId, [{ ...change.message, position: change.position }], false)
        else if (change.type === 'update') await cache.patch(change.channelId, change.id, change.changes)
        else await cache.remove(change.channelId, change.id)
      }
    },
    async patch (channelId, id, changes) {
      const e = entry(channelId, true)!
      const m = e.messages.get(id)
      if (m) e.messages.set(id, { ...m, ...structuredClone(changes) })
      else if (!e.gone.has(id)) e.patched.set(id, { ...e.patched.get(id), ...structuredClone(changes) })
    },
    async remove (channelId, id) {
      const e = entry(channelId, true)!
      e.gone.add(id)
      e.patched.delete(id)
      if (e.messages.delete(id)) e.ids.splice(e.ids.indexOf(id), 1)
    },
    async fill (channelId, messages, complete) {
      // Nothing to add and nothing learnt: no entry. (A complete empty fill is a real state, "this
      // channel has no messages", and is kept; the history route never makes one for an empty page.)
      if (messages.length === 0 && !complete) return
      const e = entry(channelId, true)!
      for (const m of messages) if (!e.messages.has(m.id) && !e.gone.has(m.id)) insert(e, { ...m, ...e.patched.get(m.id) })
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
