// In-memory store with the Mongo store's semantics (insert once by id, pages by id descending).
import type { Message } from '../../schemas/message.ts'
import type { MessageStore, Reactions } from './store.ts'

export function createEmbeddedStore (): MessageStore {
  const messages = new Map<string, Message>()
  const byChannel = new Map<string, string[]>() // ascending ids

  return {
    kind: 'embedded',
    async upsert (message) {
      if (messages.has(message.id)) return // a redelivered create: edits and reactions stay
      const ids = byChannel.get(message.channelId) ?? []
      let i = ids.length
      while (i > 0 && ids[i - 1] > message.id) i--
      ids.splice(i, 0, message.id)
      byChannel.set(message.channelId, ids)
      messages.set(message.id, structuredClone(message))
    },
    async patch (id, changes) {
      const m = messages.get(id)
      if (!m) return false
      messages.set(id, { ...m, ...structuredClone(changes) })
      return true
    },
    async remove (id) {
      const m = messages.get(id)
      if (!m) return
      messages.delete(id)
      const ids = byChannel.get(m.channelId)!
      ids.splice(ids.indexOf(id), 1)
    },
    async react (id, emoji, userId, on) {
      const m = messages.get(id)
      if (!m) return null
      // the same rule as the Mongo store: any string is only a key (no `__proto__` or `toString` surprises)
      const next = reacted(m.reactions, emoji, userId, on)
      if (next) m.reactions = next
      return structuredClone(m.reactions ?? {})
    },
    async get (id) {
      const m = messages.get(id)
      return m ? structuredClone(m) : null
    },
    async page (channelId, { before, limit }) {
      const ids = byChannel.get(channelId) ?? []
      let end = ids.length
      if (before !== undefined) while (end > 0 && ids[end - 1] >= before) end--
      return ids.slice(Math.max(0, end - limit), end).reverse().map((id) => structuredClone(messages.get(id)!))
    },
    async ping () {},
    async close () {}
  }
}

/** The reactions after `userId` adds (`on`) or takes back `emoji` (an emptied emoji disappears); null when that changes nothing. */
function reacted (reactions: Reactions | undefined, emoji: string, userId: string, on: boolean): Reactions | null {
  const entries = Object.entries(reactions ?? {})
  const users = entries.find(([e]) => e === emoji)?.[1] ?? []
  if (users.includes(userId) === on) return null
  const kept = on ? [...users, userId] : users.filter((u) => u !== userId)
  const others = entries.filter(([e]) => e !== emoji)
  if (kept.length === 0) return Object.fromEntries(others)
  return Object.fromEntries(users.length === 0 ? [...entries, [emoji, kept]] : entries.map(([e, u]) => [e, e === emoji ? kept : u]))
}
