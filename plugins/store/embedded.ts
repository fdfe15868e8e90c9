// In-memory store with the Mongo store's semantics (insert once by id, tombstones, monotonic
// changes, pages by id descending, threads counted once per reply).
import { deletedParent, inChannel, type DeletedParent, type HistoryMessage, type Message, type Position } from '../../schemas/message.ts'
import { reacted, replayed, threadWithoutReply, threadWithReply, type MessageStore, type ThreadState } from './store.ts'

export function createEmbeddedStore (): MessageStore {
  // messages, and the placeholders of deleted parents with replies
  const messages = new Map<string, HistoryMessage>()
  const byChannel = new Map<string, string[]>() // ascending ids
  const byParent = new Map<string, string[]>() // ascending reply ids
  // id → position of the last event applied; kept after a delete as the message's tombstone
  const applied = new Map<string, Position>()
  // id → position of the last reaction applied to the message
  const reactionsApplied = new Map<string, Position>()
  // parent id → position of the last reply counted into its thread
  const threadApplied = new Map<string, Position>()

  const insertSorted = (ids: string[], id: string) => {
    let i = ids.length
    while (i > 0 && ids[i - 1] > id) i--
    ids.splice(i, 0, id)
  }
  const live = (id: string): Message | undefined => {
    const m = messages.get(id)
    return m && !('deleted' in m) ? m : undefined
  }

  /** Counts a reply into its parent's thread unless counted already (its position is not newer). */
  function countReply (reply: Message, position: Position, touched: Map<string, ThreadState>) {
    const parentId = reply.parentId!
    const parent = messages.get(parentId)
    if (!parent) return // never stored (a route checks the parent exists), or deleted without replies
    if (!replayed(position, threadApplied.get(parentId))) {
      messages.set(parentId, { ...parent, thread: threadWithReply(parent.thread, reply) } as HistoryMessage)
      threadApplied.set(parentId, position)
    }
    touched.set(parentId, { id: parentId, channelId: parent.channelId, thread: structuredClone(messages.get(parentId)!.thread!) })
  }

  /** Counts a deleted reply out of its parent's thread unless counted already; an emptied placeholder leaves history. */
  function uncountReply (parentId: string, position: Position, touched: Map<string, ThreadState>) {
    const parent = messages.get(parentId)
    if (!parent?.thread || replayed(position, threadApplied.get(parentId))) return
    const thread = threadWithoutReply(parent.thread)!
    threadApplied.set(parentId, position)
    touched.set(parentId, { id: parentId, channelId: parent.channelId, thread: structuredClone(thread) })
    if ('deleted' in parent && thread.replyCount === 0) {
      messages.delete(parentId)
      const ids = byChannel.get(parent.channelId)!
      ids.splice(ids.indexOf(parentId), 1)
    } else {
      messages.set(parentId, { ...parent, thread } as HistoryMessage)
    }
  }

  return {
    kind: 'embedded',
    async apply (changes) {
      const touched = new Map<string, ThreadState>()
      for (const change of changes) {
        const id = change.type === 'create' ? change.message.id : change.id
        const last = applied.get(id)
        if (change.type === 'create') {
          const { message } = change
          if (!last) { // else stored already, or its tombstone: a redelivered create changes nothing
            if (inChannel(message)) {
              const ids = byChannel.get(message.channelId) ?? []
              insertSorted(ids, message.id)
              byChannel.set(message.channelId, ids)
            }
            if (message.parentId !== undefined) {
              const replies = byParent.get(message.parentId) ?? []
              insertSorted(replies, message.id)
              byParent.set(message.parentId, replies)
            }
            messages.set(message.id, structuredClone(message))
            applied.set(id, change.position)
          }
          // guarded by its own position: a reply stored before a crash is still counted, once
          if (message.parentId !== undefined) countReply(message, change.position, touched)
          continue
        }
        // an event at or below the last one applied to the message (a replay) changes nothing
        if (replayed(change.position, last)) continue
        const m = live(id)
        if (change.type === 'update') {
          if (!m) continue // deleted (a tombstone) or never stored
          messages.set(id, { ...m, ...structuredClone(change.changes) })
        } else if (m) {
          const placeholder = deletedParent(m)
          if (placeholder) {
            messages.set(id, placeholder) // the thread stays readable: no text, no author
          } else {
            messages.delete(id)
            const ids = byChannel.get(m.channelId)
            if (ids?.includes(id)) ids.splice(ids.indexOf(id), 1)
          }
          if (m.parentId !== undefined) {
            const replies = byParent.get(m.parentId)!
            replies.splice(replies.indexOf(id), 1)
            uncountReply(m.parentId, change.position, touched)
          }
        }
        applied.set(id, change.position) // a delete's tombstone: the id stays known
      }
      return [...touched.values()]
    },
    async react (id, emoji, userId, on, position) {
      const m = live(id)
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
      const m = live(id)
      return m ? structuredClone(m) : null
    },
    async page (channelId, { before, limit }) {
      const ids = byChannel.get(channelId) ?? []
      let end = ids.length
      if (before !== undefined) while (end > 0 && ids[end - 1] >= before) end--
      return ids.slice(Math.max(0, end - limit), end).reverse().map((id) => structuredClone(messages.get(id)!))
    },
    async replies (parentId, { after, limit }) {
      const ids = byParent.get(parentId) ?? []
      let start = 0
      if (after !== undefined) while (start < ids.length && ids[start] <= after) start++
      return ids.slice(start, start + limit).map((id) => structuredClone(live(id)!))
    },
    async deletedParent (id) {
      const m = messages.get(id)
      return m && 'deleted' in m ? structuredClone(m as DeletedParent) : null
    },
    async ping () {},
    async close () {}
  }
}
