// One subscribed channel: typed handlers, the last position seen, and what happens after a reconnect
// (replay with no duplicate, or a `gap` and, when asked, a reload of the newest history page).
import { isPersonalChannel } from '../../schemas/channel-kinds.ts'
import { Emitter } from './emitter.ts'
import { compareOffsets, later, seen } from './position.ts'
import type { Api } from './http.ts'
import { Thread, type ThreadOptions } from './thread.ts'
import type { ClientFrame, EventData, EventFrame, EventType, HistoryPage, Pin, Position, SubscribedFrame, Clock } from './types.ts'

/** What a channel's handlers receive for one event. `position` is set on message events only. */
export interface ChannelEvent<T extends EventType = EventType> {
  channel: string
  type: T
  data: EventData<T>
  position?: Position
}

export type ChannelEvents = { [T in EventType]: ChannelEvent<T> } & {
  /** every event, whatever its type */
  event: ChannelEvent
  /** the server answered a subscribe: `resumed` when it carried `since`, `recovered` when it replayed what was missed */
  subscribed: { recovered: boolean, resumed: boolean, position: Position | null }
  /** the server could not replay what was missed since `since`: events between it and `position` are not coming */
  gap: { since: Position | null, position: Position | null }
  /** reload mode: the newest history page (newest first) that replaces what the app shows; live events follow it */
  reload: HistoryPage
  /** a subscribe refused (`forbidden`, …) or a reload that kept failing */
  error: { code: string, message: string }
}

export interface ChannelOptions {
  /** on a gap (and on the first subscribe), load the newest history page and continue from it (default: the client's `reload`) */
  reload?: boolean
  /** messages in a reloaded page (default 50) */
  historyLimit?: number
  /** where to resume from, e.g. a position kept from an earlier session */
  since?: Position
}

interface ChannelHost {
  api: Api | null
  clock: Pick<Clock, 'setTimeout'>
  send (frame: ClientFrame): boolean
  sleep (ms: number): Promise<void>
  forget (id: string): void
}

/** Reads of a page that does not yet reach the subscribe's position (the store lags the fanout by a few ms) on a first subscribe… */
const RELOAD_ATTEMPTS = 5
/** …and after a gap, when the store may lag by a consumer-group rebalance (an instance died: up to Kafka's session timeout, 10 s); about 15 s in all. */
const GAP_RELOAD_ATTEMPTS = 20
/** Older pages read to reach back to the last position delivered, when the newest page does not. */
const RELOAD_PAGES = 10

export class Channel extends Emitter<ChannelEvents> {
  #last: Position | null
  #state: 'idle' | 'subscribing' | 'subscribed' | 'closed' = 'idle'
  #sentSince: Position | null = null
  #subscribedOnce = false
  #buffer: EventFrame[] | null = null
  #generation = 0
  #needsReload = false
  /** a reload after a gap whose live start was unknown: the first live message anchors it (see `_event`) */
  #unanchored = false
  readonly reloadMode: boolean
  readonly historyLimit: number

  constructor (readonly id: string, private readonly host: ChannelHost, opts: ChannelOptions & { reload: boolean }) {
    super()
    this.#last = opts.since ?? null
    this.reloadMode = opts.reload
    this.historyLimit = opts.historyLimit ?? 50
  }

  /** The last stream position delivered (or known from history): the `since` of the next resubscribe. */
  get position (): Position | null { return this.#last }
  get state (): 'idle' | 'subscribing' | 'subscribed' | 'closed' { return this.#state }
  /** A personal channel `user:<id>`: the server subscribes every connection of its user by itself. */
  get serverManaged (): boolean { return isPersonalChannel(this.id) }

  #read: { messageId: string, waiting: Array<{ resolve: () => void, reject: (err: unknown) => void }> } | null = null

  /**
   * Moves your read marker to `messageId` (PUT /api/channels/:id/read), debounced: calls within
   * `delay` ms (default 500) of the first are one request, for the last message named. Resolves once
   * the server has the marker; your other devices then get `read.updated` and clear their badge.
   */
  markRead (messageId: string, { delay = 500 }: { delay?: number } = {}): Promise<void> {
    const api = this.host.api
    if (!api) return Promise.reject(new Error('markRead needs the `api` option (the HTTP API base URL)'))
    return new Promise((resolve, reject) => {
      if (this.#read) {
        this.#read.messageId = messageId
        this.#read.waiting.push({ resolve, reject })
        return
      }
      const read = this.#read = { messageId, waiting: [{ resolve, reject }] }
      this.host.clock.setTimeout(() => {
        this.#read = null
        api.markRead(this.id, read.messageId).then(
          () => { for (const w of read.waiting) w.resolve() },
          (err: unknown) => { for (const w of read.waiting) w.reject(err) })
      }, delay)
    })
  }

  /** Moves your read marker back to just before `messageId` (mark as unread); not debounced. */
  markUnread (messageId: string): Promise<void> {
    if (!this.host.api) return Promise.reject(new Error('markUnread needs the `api` option (the HTTP API base URL)'))
    return this.host.api.markRead(this.id, messageId, true)
  }

  /**
   * A thread of this channel: its replies (loaded now, then kept current by this channel's events)
   * and `reply()` to post in it. Close it when the app stops showing it.
   */
  thread (parentId: string, opts: ThreadOptions = {}): Thread {
    return new Thread(this, parentId, this.host.api, opts)
  }

  /** Stops delivery and unsubscribes; `client.channel(id)` makes a new one. */
  close (): void {
    if (this.#state === 'closed') return
    if (!this.serverManaged && this.#state !== 'idle') this.host.send({ op: 'unsubscribe', channel: this.id })
    this.#state = 'closed'
    this.#generation++
    this.#buffer = null
    this.host.forget(this.id)
  }

  /**
   * Pins a message of this channel (at most PINS_MAX per channel: a SwitchboardError with status 409
   * beyond). Every subscriber gets `pin.added`; pin events carry no position and are not replayed,
   * so after a reconnect read `pins()` again. Keep the highest `data.version` per message when
   * applying them live: two changes of one pin may arrive in another order than they were made.
   */
  async pin (messageId: string): Promise<void> { await this.#api('pinning').pin(this.id, messageId) }
  /** Unpins a message of this channel (`pin.removed`; also sent when a pinned message is deleted, with `deleted: true`). */
  async unpin (messageId: string): Promise<void> { await this.#api('unpinning').unpin(this.id, messageId) }
  /** The channel's pinned messages, newest pin first. */
  async pins (): Promise<Pin[]> { return (await this.#api('reading pins').pins(this.id)).pins }

  #api (what: string): Api {
    if (!this.host.api) throw new Error(`${what} needs the \`api\` option (the HTTP API base URL)`)
    return this.host.api
  }

  /** @internal the connection is ready: subscribe, resuming from the last position. */
  _connected (): void {
    if (this.#state === 'closed') return
    if (this.serverManaged) { this.#state = 'subscribed'; return }
    this.#sentSince = this.#last
    this.#state = 'subscribing'
    this.host.send({ op: 'subscribe', channel: this.id, ...(this.#last ? { since: this.#last } : {}) })
  }

  /** @internal the connection ended: events buffered for an unfinished reload are dropped (the next subscribe covers them). */
  _disconnected (): void {
    if (this.#state === 'closed') return
    this.#state = 'idle'
    this.#generation++
    this.#buffer = null
  }

  /** @internal */
  _subscribed (frame: SubscribedFrame): void {
    if (this.#state !== 'subscribing') return
    this.#state = 'subscribed'
    const resumed = this.#sentSince !== null
    const { position, recovered } = frame
    if (resumed && !recovered) {
      // Never backwards: an instance that lags the one we came from answers an older position; what
      // we delivered up to our own position stays delivered, and is not delivered again.
      this.emit('gap', { since: this.#sentSince, position })
      if (this.reloadMode) this.#needsReload = true
    }
    const before = this.#last
    this.#unanchored = false
    if (!recovered) this.#last = later(this.#last, position)
    this.emit('subscribed', { recovered, resumed, position })
    if (this.reloadMode && (!this.#subscribedOnce || this.#needsReload)) {
      this.#needsReload = true
      void this.#reload(position, before)
    }
    this.#subscribedOnce = true
  }

  /** @internal */
  _event (frame: EventFrame): void {
    if (this.#state === 'closed') return
    if (this.#buffer) this.#buffer.push(frame)
    else if (this.#unanchored && frame.type === 'message.created' && frame.position && !seen(frame.position, this.#last)) {
      // The instance that answered the resubscribe gave no position (it had just started) and the
      // page came before any live message: the store may have lacked messages just before this one.
      // Read again until the page reaches it, back to what was shown, then deliver it.
      this.#unanchored = false
      void this.#reload(frame.position, this.#last, [frame])
    } else this.#deliver(frame)
  }

  /** @internal a subscribe the server refused */
  _refused (code: string, message: string): void {
    if (this.#state === 'subscribing') this.#state = 'idle'
    this.emit('error', { code, message })
  }

  #deliver (frame: EventFrame): void {
    const { position } = frame
    if (position) {
      if (seen(position, this.#last)) return // a replay of what this channel already delivered
      this.#last = later(this.#last, position)
    }
    const event = { channel: this.id, type: frame.type, data: frame.data, ...(position ? { position } : {}) } as ChannelEvent
    this.emit(frame.type as EventType, event as never)
    this.emit('event', event)
  }

  /**
   * Loads the newest page while live events wait in a buffer, then hands the page over and the
   * buffered events after it, leaving out what the page already holds. The page's newest position
   * becomes the channel's position: the store applies a partition's events in order, so everything
   * up to it is in the page. A page older than where live events start (the subscribe's position,
   * or the first live message held back when the instance gave none: the store lags the fanout) is
   * read again, a bounded number of times; a page that does not reach back to `from`
   * (the last position delivered before the gap) is extended with older pages, so the reload
   * leaves no hole. When either bound is reached the `error` event says so (`reload_incomplete`).
   */
  async #reload (start: Position | null, from: Position | null = null, held: EventFrame[] = []): Promise<void> {
    const api = this.host.api
    const generation = ++this.#generation
    if (!api) {
      this.emit('error', { code: 'reload_failed', message: 'reload needs the `api` option (the HTTP API base URL)' })
      return
    }
    this.#buffer = held
    let anchored = start !== null
    let page: HistoryPage | null = null
    const attempts = from ? GAP_RELOAD_ATTEMPTS : RELOAD_ATTEMPTS
    let failures = 0
    for (let attempt = 1; attempt <= attempts; attempt++) {
      try {
        page = await api.history(this.id, { limit: this.historyLimit })
      } catch (err) {
        if (generation !== this.#generation) return
        if (++failures === RELOAD_ATTEMPTS || attempt === attempts) {
          this.emit('error', { code: 'reload_failed', message: (err as Error).message })
          break
        }
        await this.host.sleep(250 * failures)
        continue
      }
      if (generation !== this.#generation) return
      // The page must reach where live events start: the subscribe's position, or, when the
      // instance had none to give (it has just started), the first live message held back.
      const live = this.#buffer?.find((f) => f.type === 'message.created' && f.position)?.position
      const target = start ?? live
      if (!target || covers(page, target)) { anchored ||= target !== undefined; break }
      if (attempt === attempts) {
        // With `start` only, also the case when the channel's last event was an edit or a deletion
        // (no message holds its position): the page may be complete, so that is said after a gap only.
        if (from || !start) this.emit('error', { code: 'reload_incomplete', message: 'the history store does not reach the live stream; messages just before it may be missing' })
        break
      }
      await this.host.sleep(Math.min(100 * attempt, 1000))
      if (generation !== this.#generation) return
    }
    for (let pages = 0; page?.nextBefore; pages++) {
      if (!from || covers(page, from, 0)) break
      if (pages === RELOAD_PAGES) {
        this.emit('error', { code: 'reload_incomplete', message: `more than ${RELOAD_PAGES} pages were missed; the reload starts after a hole` })
        break
      }
      let older: HistoryPage
      try {
        older = await api.history(this.id, { limit: this.historyLimit, before: page.nextBefore })
      } catch (err) {
        if (generation !== this.#generation) return
        this.emit('error', { code: 'reload_incomplete', message: (err as Error).message })
        break
      }
      if (generation !== this.#generation) return
      page = { messages: [...page.messages, ...older.messages], nextBefore: older.nextBefore }
    }
    const buffered = this.#buffer ?? []
    this.#buffer = null
    this.#unanchored = from !== null && !anchored
    if (page) {
      this.#needsReload = false
      for (const m of page.messages) if (m.position) this.#last = later(this.#last, m.position)
      this.emit('reload', page)
    }
    const inPage = new Set(page?.messages.map((m) => m.id))
    for (const frame of buffered) {
      if (frame.type === 'message.created' && inPage.has((frame.data as { id: string }).id)) continue
      this.#deliver(frame)
    }
  }
}

/**
 * Whether the page reaches `p`: by default a message at or after it (the page is recent enough);
 * with `direction` 0, a message at or before it (the page goes back far enough). A page with
 * nothing of `p`'s epoch never reaches it.
 */
function covers (page: HistoryPage, p: Position, direction: 1 | 0 = 1): boolean {
  return page.messages.some((m) => {
    if (!m.position || m.position.epoch !== p.epoch) return false
    const c = compareOffsets(m.position.offset, p.offset)
    return direction === 1 ? c >= 0 : c <= 0
  })
}
