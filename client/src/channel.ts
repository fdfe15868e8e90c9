// One subscribed channel: typed handlers, the last position seen, and what happens after a reconnect
// (replay with no duplicate, or a `gap` and, when asked, a reload of the newest history page).
import { Emitter } from './emitter.ts'
import { compareOffsets, later, seen } from './position.ts'
import type { Api } from './http.ts'
import type { ClientFrame, EventData, EventFrame, EventType, HistoryPage, Position, SubscribedFrame } from './types.ts'

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
  send (frame: ClientFrame): boolean
  sleep (ms: number): Promise<void>
  forget (id: string): void
}

const RELOAD_ATTEMPTS = 5

export class Channel extends Emitter<ChannelEvents> {
  #last: Position | null
  #state: 'idle' | 'subscribing' | 'subscribed' | 'closed' = 'idle'
  #sentSince: Position | null = null
  #subscribedOnce = false
  #buffer: EventFrame[] | null = null
  #generation = 0
  #needsReload = false
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
  get serverManaged (): boolean { return this.id.startsWith('user:') }

  /** Stops delivery and unsubscribes; `client.channel(id)` makes a new one. */
  close (): void {
    if (this.#state === 'closed') return
    if (!this.serverManaged && this.#state !== 'idle') this.host.send({ op: 'unsubscribe', channel: this.id })
    this.#state = 'closed'
    this.#generation++
    this.#buffer = null
    this.host.forget(this.id)
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
    if (!recovered) this.#last = later(this.#last, position)
    this.emit('subscribed', { recovered, resumed, position })
    if (this.reloadMode && (!this.#subscribedOnce || this.#needsReload)) {
      this.#needsReload = true
      void this.#reload(position)
    }
    this.#subscribedOnce = true
  }

  /** @internal */
  _event (frame: EventFrame): void {
    if (this.#state === 'closed') return
    if (this.#buffer) this.#buffer.push(frame)
    else this.#deliver(frame)
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
   * up to it is in the page. A page older than where the subscribe started (the store lags the
   * fanout by a few milliseconds) is read again, a bounded number of times.
   */
  async #reload (start: Position | null): Promise<void> {
    const api = this.host.api
    const generation = ++this.#generation
    if (!api) {
      this.emit('error', { code: 'reload_failed', message: 'reload needs the `api` option (the HTTP API base URL)' })
      return
    }
    this.#buffer = []
    let page: HistoryPage | null = null
    for (let attempt = 1; attempt <= RELOAD_ATTEMPTS; attempt++) {
      try {
        page = await api.history(this.id, { limit: this.historyLimit })
      } catch (err) {
        if (generation !== this.#generation) return
        if (attempt === RELOAD_ATTEMPTS) {
          this.emit('error', { code: 'reload_failed', message: (err as Error).message })
          break
        }
        await this.host.sleep(250 * attempt)
        continue
      }
      if (generation !== this.#generation) return
      if (!start || attempt === RELOAD_ATTEMPTS || covers(page, start)) break
      await this.host.sleep(100 * attempt)
      if (generation !== this.#generation) return
    }
    const buffered = this.#buffer ?? []
    this.#buffer = null
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

/** Whether the page reaches the position the subscribe started from (or has nothing to show of its epoch). */
function covers (page: HistoryPage, start: Position): boolean {
  return page.messages.some((m) => m.position && m.position.epoch === start.epoch && compareOffsets(m.position.offset, start.offset) >= 0)
}
