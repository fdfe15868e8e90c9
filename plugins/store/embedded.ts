// In-memory store with the Mongo store's semantics (insert once by id, tombstones, monotonic
// changes, pages by id descending).
import type { Message, Position } from '../../schemas/message.ts'
import { reacted, replayed, type MessageStore } from './store.ts'

export function createEmbeddedStore (): MessageStore {
  const messages = new Map<string, Message>()
  const byChannel = new Map<string, string[]>() // ascending ids
  // id → position of the last event applied; kept after a delete as the message's tombstone
  const applied = new Map<string, Position>()
  // id → position of the last reaction applied to the message
  const reactionsApplied = new Map<string, Position>()

  return {
    kind: 'embedded',
    async apply (changes) {
      for (const change of changes) {
        const id = change.type === 'create' ? change.message.id : change.id
        const last = applied.get(id)
        if (change.type === 'create') {
          if (last) continue // stored already, or its tombstone: a redelivered create changes nothing
          const { message } = change
          const ids = byChannel.get(message.channelId) ?? []
          let i = ids.length
          while (i > 0 && ids[i - 1] > message.id) i--
          ids.splice(i, 0, message.id)
          byChannel.set(message.channelId, ids)
          messages.set(message.id, structuredClone(message))
          applied.set(id, change.position)
          continue
        }
        // an event at or below the last one applied to the message (a replay) changes nothing
        if (replayed(change.position, last)) continue
        const m = messages.get(id)
        if (change.type === 'update') {
          if (!m) continue // deleted (a tombstone) or never stored
          messages.set(id, { ...m, ...structuredClone(change.changes) })
        } else if (m) {
          messages.delete(id)
          const ids = byChannel.get(m.channelId)!
          ids.splice(ids.indexOf(id), 1)
        }
        applied.set(id, change.position) // a delete's tombstone: the id stays known
      }
    },
    async react (id, emoji, userId, on, position) {
      const m = messages.get(id)
      if (!m) return null
      if (position && replayed(position, reactionsApplied.get(id))) return structuredClone(m.reactions ?? {})
      // the same rule as the Mongo store: any string is only a key (no `__proto__` or `toString` surprises)
      const next = reacted(m.reactions, emoji, userId, on)
      if (next) {
        m.reactions = next
        if (position) reactionsApplied.set(id, position)
      }
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
