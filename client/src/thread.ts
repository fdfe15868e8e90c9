// One thread of a subscribed channel: its replies, oldest first, loaded from
// GET /api/messages/:id/replies and kept current by the channel's live events (a reply's
// `message.created` carries its `parentId`; edits, deletions and reactions name the reply), and
// the parent's `thread` state from `thread.updated`. Neither a thread's state nor reactions are
// replayed after a reconnect: on a gap the thread reloads its replies.
import { Emitter } from './emitter.ts'
import type { Api, PostInput } from './http.ts'
import type { Channel } from './channel.ts'
import type { EventData, Message } from './types.ts'

/** A parent's thread state, as `thread.updated` and history carry it. */
export type ThreadState = EventData<'thread.updated'>['thread']

export interface ThreadEvents {
  /** the replies changed (loaded, a reply added, edited, reacted to or deleted): all of them, oldest first */
  change: Message[]
  /** a new reply, live */
  reply: Message
  /** the parent's thread state, from `thread.updated` */
  state: ThreadState
  /** a load of the replies failed */
  error: { code: string, message: string }
}

export interface ThreadOptions {
  /** replies per request while loading (default 100, the server's maximum) */
  pageSize?: number
}

export class Thread extends Emitter<ThreadEvents> {
  readonly #replies = new Map<string, Message>()
  readonly #off: Array<() => void> = []
  #state: ThreadState | null = null
  #closed = false
  #generation = 0
  readonly pageSize: number
  /** settles when the first load of the replies is done (it never rejects: failures are `error` events) */
  readonly loaded: Promise<void>

  constructor (readonly channel: Channel, readonly parentId: string, private readonly api: Api | null, opts: ThreadOptions = {}) {
    super()
    this.pageSize = opts.pageSize ?? 100
    const on = channel.on.bind(channel) as Channel['on']
    this.#off.push(
      on('message.created', ({ data }) => {
        if (data.parentId !== this.parentId || this.#replies.has(data.id)) return
        this.#replies.set(data.id, data)
        this.emit('reply', data)
        this.#changed()
      }),
      on('message.updated', ({ data }) => this.#patch(data.id, (m) => ({ ...m, content: data.content, editedAt: data.editedAt }))),
      on('message.deleted', ({ data }) => { if (this.#replies.delete(data.id)) this.#changed() }),
      on('reaction.added', ({ data }) => this.#patch(data.messageId, (m) => reacted(m, data.emoji, data.userId, true))),
      on('reaction.removed', ({ data }) => this.#patch(data.messageId, (m) => reacted(m, data.emoji, data.userId, false))),
      on('thread.updated', ({ data }) => {
        if (data.messageId !== this.parentId) return
        this.#state = data.thread
        this.emit('state', data.thread)
      }),
      // what was missed (reactions and thread states are never replayed) is read again
      on('gap', () => { void this.reload() })
    )
    this.loaded = this.reload()
  }

  /** The replies, oldest first. */
  get replies (): Message[] { return [...this.#replies.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)) }
  /** The parent's thread state, once a `thread.updated` has said it (history's copy of the parent has it too). */
  get state (): ThreadState | null { return this.#state }

  /** Posts a reply in this thread (retried safely with one nonce, as `api.post`). */
  reply (content: string, opts: Pick<PostInput, 'alsoInChannel' | 'nonce'> = {}): Promise<Message> {
    if (!this.api) return Promise.reject(new Error('replying needs the `api` option (the HTTP API base URL)'))
    return this.api.post({ channelId: this.channel.id, content, parentId: this.parentId, ...opts })
  }

  /** Reads every reply again (live replies that arrive meanwhile are kept). */
  async reload (): Promise<void> {
    if (this.#closed) return
    if (!this.api) {
      this.emit('error', { code: 'reload_failed', message: 'a thread needs the `api` option (the HTTP API base URL)' })
      return
    }
    const generation = ++this.#generation
    const loaded = new Map<string, Message>()
    try {
      let after: string | null | undefined
      do {
        const page = await this.api.replies(this.parentId, { limit: this.pageSize, ...(after ? { after } : {}) })
        if (generation !== this.#generation || this.#closed) return
        for (const m of page.replies) loaded.set(m.id, m)
        after = page.nextAfter
      } while (after)
    } catch (err) {
      if (generation === this.#generation && !this.#closed) this.emit('error', { code: 'reload_failed', message: (err as Error).message })
      return
    }
    // A reply that arrived live during the load and is newer than the last one read stays.
    const last = [...loaded.keys()].pop() ?? ''
    for (const [id, m] of this.#replies) if (id > last) loaded.set(id, m)
    this.#replies.clear()
    for (const [id, m] of loaded) this.#replies.set(id, m)
    this.#changed()
  }

  /** Stops following the channel's events. */
  close (): void {
    this.#closed = true
    for (const off of this.#off.splice(0)) off()
  }

  #patch (id: string, change: (m: Message) => Message): void {
    const m = this.#replies.get(id)
    if (!m) return
    this.#replies.set(id, change(m))
    this.#changed()
  }

  #changed (): void { this.emit('change', this.replies) }
}

/** A reply's reactions after one reaction event (sets per emoji, as the server keeps them). */
function reacted (m: Message, emoji: string, userId: string, on: boolean): Message {
  const users = m.reactions?.[emoji] ?? []
  if (users.includes(userId) === on) return m
  const reactions = { ...m.reactions, [emoji]: on ? [...users, userId] : users.filter((u) => u !== userId) }
  if (reactions[emoji].length === 0) delete reactions[emoji]
  return { ...m, reactions }
}
