// `client.unread`: the user's unread and mention counts per channel, seeded from
// GET /api/users/me/unread on every connect (and on `refresh()`), then kept current by events: a
// new message by someone else in a subscribed channel, the user's own post there (it reads the
// channel), a mention notification, and the user's own `read.updated` from any of their devices. Channels the client does not subscribe to keep the
// counts of the last refresh (docs/chat-state.md).
import { isPersonalChannel } from '../../schemas/channel-kinds.ts'
import { Emitter } from './emitter.ts'
import { later, seen } from './position.ts'
import type { Api } from './http.ts'
import type { ChannelUnread, EventData, EventFrame, Position } from './types.ts'

export interface UnreadEvents {
  /** the counts of a channel changed (after a refresh: every channel, once) */
  change: ChannelUnread
  /** a refresh failed; the counts stay as they were */
  error: { message: string }
}

export class UnreadCounts extends Emitter<UnreadEvents> {
  readonly #channels = new Map<string, ChannelUnread>()
  /** per channel: the newest message position seen (a marker at or after it leaves nothing unread) */
  readonly #newest = new Map<string, Position>()
  #refreshing: Promise<void> | null = null
  #again = false

  constructor (private readonly api: Api | null, private readonly me: () => string | undefined) { super() }

  /** The counts of a channel (undefined: not one of the user's channels yet). */
  get (channelId: string): ChannelUnread | undefined { return this.#channels.get(channelId) }
  /** Every channel's counts. */
  get channels (): ReadonlyMap<string, ChannelUnread> { return this.#channels }

  /** Reads the counts from the server (one request at a time; a call during one asks for another after it). */
  refresh (): Promise<void> {
    if (this.#refreshing) { this.#again = true; return this.#refreshing }
    this.#refreshing = (async () => {
      try {
        do {
          this.#again = false
          if (!this.api) return
          const { channels } = await this.api.unread()
          this.#channels.clear()
          for (const c of channels) this.#set(c)
        } while (this.#again)
      } catch (err) {
        this.emit('error', { message: (err as Error).message })
      } finally {
        this.#refreshing = null
      }
    })()
    return this.#refreshing
  }

  #set (c: ChannelUnread): void {
    this.#channels.set(c.channelId, c)
    this.emit('change', c)
  }

  /** @internal an event frame the connection received */
  _event (frame: EventFrame): void {
    if (frame.type === 'message.created' && frame.position) {
      const message = frame.data as EventData<'message.created'>
      const newest = this.#newest.get(message.channelId) ?? null
      if (newest && seen(frame.position, newest)) return // a replay of what this client counted
      this.#newest.set(message.channelId, later(newest, frame.position)!)
      const current = this.#channels.get(message.channelId)
      // not a reply, not at or before the marker (a replay after a reconnect)
      if ((message as { parentId?: string }).parentId !== undefined) return
      if (current?.position && seen(frame.position, current.position)) return
      if (message.senderId === this.me()) {
        // posting reads the channel: the server moves the marker to the post (and sends no read.updated for it)
        this.#set({ channelId: message.channelId, unread: 0, capped: false, mentions: 0, lastReadMessageId: message.id, position: frame.position })
        return
      }
      const base = current ?? { channelId: message.channelId, unread: 0, capped: false, mentions: 0, lastReadMessageId: null, position: null }
      this.#set({ ...base, unread: base.unread + 1 })
    } else if (frame.type === 'notification' && isPersonalChannel(frame.channel)) {
      const n = frame.data as EventData<'notification'>
      if (n.kind !== 'mention') return
      const current = this.#channels.get(n.channelId)
      const base = current ?? { channelId: n.channelId, unread: 0, capped: false, mentions: 0, lastReadMessageId: null, position: null }
      this.#set({ ...base, mentions: base.mentions + 1 })
    } else if (frame.type === 'read.updated' && isPersonalChannel(frame.channel)) {
      // the marker as the store has it now (sent after each move, in order): any device of the user
      const marker = frame.data as EventData<'read.updated'>
      const newest = this.#newest.get(marker.channelId)
      if (marker.position && newest && seen(newest, marker.position)) {
        // read up to the newest message this client knows of: nothing left
        this.#set({ channelId: marker.channelId, unread: 0, capped: false, mentions: 0, lastReadMessageId: marker.messageId, position: marker.position })
      } else {
        void this.refresh() // back (mark as unread), or short of the newest: the server counts
      }
    }
  }
}
