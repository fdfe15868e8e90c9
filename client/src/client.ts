// The connection: connect, stay alive, reconnect with backoff, refresh the token, and route frames
// to the channels. See ../README.md for the behaviour this file promises.
import { isPersonalChannel } from '../../schemas/channel-kinds.ts'
import { Backoff, type BackoffOptions } from './backoff.ts'
import { Channel, type ChannelEvent, type ChannelOptions } from './channel.ts'
import { Emitter } from './emitter.ts'
import { Api, type RetryOptions } from './http.ts'
import { UnreadCounts } from './unread.ts'
import { Close, type ClientFrame, type Clock, type ErrorFrame, type ServerFrame, type WebSocketConstructor, type WebSocketLike } from './types.ts'

type TimerName = 'retry' | 'idle' | 'dead' | 'stable' | 'refresh'

export type ConnectionState = 'connecting' | 'connected' | 'disconnected'

/** Why the client stopped reconnecting. */
export type FailureReason = 'unauthorized' | 'forbidden' | 'token_expired' | 'policy'

export interface ClientOptions {
  /**
   * the WebSocket endpoint, e.g. `ws://localhost:5002/ws`; or several: each connection attempt takes
   * the next, starting at a random one, so the clients of an instance that went away spread over
   * the others (each resubscribes with its positions: recovery works on any instance); or a
   * function that gives the URL of each attempt (your own discovery). Behind a load balancer, one URL.
   */
  url: string | readonly string[] | (() => string)
  /** the HTTP API base URL, e.g. `http://localhost:5001`; needed for `client.api` and reload mode */
  api?: string
  /** a JWT; or give `getToken` to have it refreshed */
  token?: string
  /** returns a fresh JWT: called before the token expires, on close 4401 and on an HTTP 401 */
  getToken?: () => string | Promise<string>
  /** with auth off only: who the client says it is (`?user=`, `x-user-id`, `x-user-name`) */
  user?: { id: string, name?: string }
  /** the WebSocket implementation (default: globalThis.WebSocket; in Node 20 pass `ws`) */
  WebSocket?: WebSocketConstructor
  /** default: globalThis.fetch */
  fetch?: typeof fetch
  /** reconnect delays (full jitter); `stableAfter` ms connected resets them (default 10 000) */
  reconnect?: BackoffOptions & { stableAfter?: number }
  /** after `idle` ms without a frame send a ping; no frame `timeout` ms later means a dead connection (defaults 30 000 and 10 000); false turns it off */
  liveness?: { idle?: number, timeout?: number } | false
  /** refresh the token this many ms before its `exp` (default 30 000; 0: only on close 4401) */
  refreshBefore?: number
  /** retries of posts, reactions and reads on 503 and network errors */
  retry?: RetryOptions
  /** the channels' default reload mode (see ChannelOptions.reload; default false) */
  reload?: boolean
  /** connect at once (default true); otherwise call `connect()` */
  autoConnect?: boolean
  /** injected for tests */
  clock?: Clock
  random?: () => number
}

export interface ClientEvents {
  state: ConnectionState
  /** the server said `ready` */
  connected: { connectionId: string, user?: string }
  /** the socket closed: the code and reason, and whether (and after how many ms) the client reconnects */
  disconnected: { code: number, reason: string, reconnect: boolean, delay?: number }
  /** the client stopped reconnecting, and why (a refused token, a policy close …); `connect()` starts again */
  failed: { reason: FailureReason, code: number, message: string }
  /** an `error` frame the server sent */
  error: ErrorFrame
  /** a notification on the user's own channel (duplicates by id dropped) */
  notification: ChannelEvent<'notification'>
  /** a token was obtained from getToken */
  token: { expiresAt: number | null }
}

/** Client-side close codes (never sent by the server). */
export const ClientClose = {
  /** no frame within the liveness bound: the connection is taken as dead */
  DEAD: 4000,
  /** the client reconnects with a fresh token */
  TOKEN_REFRESH: 4001
} as const

// Closes after which reconnecting would be refused again or repeat what caused them.
const POLICY_CLOSES = new Set<number>([Close.PROTOCOL_ERROR, Close.UNSUPPORTED_DATA, Close.POLICY, Close.FRAME_TOO_BIG, Close.RATE_LIMITED])

const systemClock: Clock = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
  now: () => Date.now()
}

/** The `exp` of a JWT in ms, or null (not a JWT, or no exp). */
export function tokenExpiry (token: string): number | null {
  try {
    const part = token.split('.')[1]
    const json = atob(part.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(part.length / 4) * 4, '='))
    const exp = JSON.parse(json).exp
    return typeof exp === 'number' ? exp * 1000 : null
  } catch {
    return null
  }
}

export class SwitchboardClient extends Emitter<ClientEvents> {
  readonly api: Api
  /** Unread and mention counts per channel: seeded at every connect, kept current by events (see unread.ts). */
  readonly unread: UnreadCounts
  readonly #opts: ClientOptions
  readonly #clock: Clock
  readonly #backoff: Backoff
  readonly #channels = new Map<string, Channel>()
  readonly #notifications = new Set<string>()
  #state: ConnectionState = 'disconnected'
  #ws: WebSocketLike | null = null
  #ready = false
  #stopped = true
  #token: string | undefined
  #tokenRetried = false
  #upgradeStatus: number | null = null
  #user: string | undefined
  #timers: Record<TimerName, unknown> = { retry: null, idle: null, dead: null, stable: null, refresh: null }
  /** Of a list of endpoints, the one the last attempt took (-1: none yet). */
  #endpoint = -1

  /** The URL of this connection attempt: the only one, the next of the list (a random one first), or the function's. */
  #nextEndpoint (): string {
    const { url } = this.#opts
    if (typeof url === 'function') return url()
    if (typeof url === 'string') return url
    const random = this.#opts.random ?? Math.random
    this.#endpoint = this.#endpoint < 0 ? Math.floor(random() * url.length) % url.length : (this.#endpoint + 1) % url.length
    return url[this.#endpoint]
  }

  constructor (opts: ClientOptions) {
    super()
    const urls = opts.url
    if (typeof urls !== 'function' && (Array.isArray(urls) ? urls.length === 0 || urls.some((u) => !u) : !urls)) {
      throw new TypeError('createClient needs `url`: the WebSocket endpoint (ws://host:port/ws), a list of them, or a function giving one')
    }
    this.#opts = opts
    this.#clock = opts.clock ?? systemClock
    this.#backoff = new Backoff(opts.reconnect, opts.random)
    this.#token = opts.token
    this.#user = opts.user?.id
    const fetchImpl = opts.fetch ?? globalThis.fetch?.bind(globalThis)
    this.api = new Api({
      api: opts.api ?? '',
      fetch: fetchImpl,
      identify: async (): Promise<Record<string, string>> => {
        const token = await this.#currentToken()
        if (token) return { authorization: `Bearer ${token}` }
        const headers: Record<string, string> = {}
        if (opts.user) headers['x-user-id'] = opts.user.id
        if (opts.user?.name) headers['x-user-name'] = opts.user.name
        return headers
      },
      refresh: opts.getToken ? async () => { await this.#refreshToken(); return true } : undefined,
      retry: opts.retry,
      clock: this.#clock,
      random: opts.random
    })
    this.unread = new UnreadCounts(opts.api === undefined ? null : this.api, () => this.#user)
    if (opts.autoConnect !== false) this.connect()
  }

  get state (): ConnectionState { return this.#state }
  /** The user the server knows this connection as (from `ready`), or the configured one. */
  get user (): string | undefined { return this.#user }
  get channels (): ReadonlyMap<string, Channel> { return this.#channels }

  /** The channel's object, subscribed now (or as soon as the client is connected) and after every reconnect. */
  channel (id: string, opts: ChannelOptions = {}): Channel {
    const existing = this.#channels.get(id)
    if (existing) return existing
    const channel = new Channel(id, {
      api: this.#opts.api === undefined ? null : this.api,
      clock: this.#clock,
      send: (frame) => this.#send(frame),
      sleep: (ms) => new Promise((resolve) => { this.#clock.setTimeout(resolve, ms) }),
      forget: (cid) => { if (this.#channels.get(cid) === channel) this.#channels.delete(cid) }
    }, { ...opts, reload: opts.reload ?? this.#opts.reload ?? false })
    this.#channels.set(id, channel)
    if (this.#ready) channel._connected()
    return channel
  }

  /** Starts connecting (again, after `close()` or `failed`). */
  connect (): void {
    if (!this.#stopped) return
    this.#stopped = false
    this.#backoff.reset()
    void this.#open()
  }

  /** Closes the connection for good (until `connect()`); channels keep their positions. */
  close (): void {
    this.#stopped = true
    this.#clear('retry')
    const ws = this.#ws
    if (ws) this.#ended(ws, Close.NORMAL, 'closed by the client', true)
    else this.#setState('disconnected')
  }

  async #open (): Promise<void> {
    this.#clear('retry')
    if (this.#stopped || this.#ws) return
    this.#setState('connecting')
    let token: string | undefined
    try {
      token = await this.#currentToken()
    } catch (err) {
      // getToken itself failed (the auth server is down): try again later like any failed connect
      return this.#retryLater(0, `getToken failed: ${(err as Error).message}`)
    }
    if (this.#stopped || this.#ws) return
    const WS = this.#opts.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket
    if (!WS) throw new TypeError('no WebSocket implementation: pass `WebSocket` (in Node 20: import WebSocket from "ws")')
    const query = token ? `token=${encodeURIComponent(token)}` : this.#opts.user ? `user=${encodeURIComponent(this.#opts.user.id)}` : ''
    const endpoint = this.#nextEndpoint()
    const url = query ? `${endpoint}${endpoint.includes('?') ? '&' : '?'}${query}` : endpoint
    this.#upgradeStatus = null
    const ws = new WS(url)
    this.#ws = ws
    ws.onmessage = (ev) => this.#onMessage(ws, ev.data)
    ws.onerror = (ev) => {
      // `ws` (Node) names the status of a refused upgrade; browsers never do (the HTTP API is asked instead)
      const status = /Unexpected server response: (\d+)/.exec(String(ev?.message ?? ''))
      if (status) this.#upgradeStatus = Number(status[1])
    }
    ws.onclose = (ev) => this.#ended(ws, ev.code, ev.reason ?? '', false)
    this.#armLiveness(ws)
  }

  #onMessage (ws: WebSocketLike, data: unknown): void {
    if (ws !== this.#ws) return
    this.#armLiveness(ws)
    let frame: ServerFrame
    try { frame = JSON.parse(String(data)) } catch { return }
    switch (frame.op) {
      case 'ready': {
        this.#ready = true
        this.#tokenRetried = false
        if (frame.user) this.#user = frame.user
        this.#setState('connected')
        this.emit('connected', { connectionId: frame.connectionId, ...(frame.user ? { user: frame.user } : {}) })
        this.#clear('stable')
        this.#timers.stable = this.#clock.setTimeout(() => this.#backoff.reset(), this.#opts.reconnect?.stableAfter ?? 10_000)
        this.#scheduleRefresh()
        for (const channel of [...this.#channels.values()]) channel._connected()
        // events of the time away are not all replayed (channels not subscribed, receipts): count again
        void this.unread.refresh()
        break
      }
      case 'subscribed':
        this.#channels.get(frame.channel)?._subscribed(frame)
        break
      case 'event': {
        if (frame.type === 'notification' && isPersonalChannel(frame.channel)) {
          const id = (frame.data as { id?: string })?.id
          if (id !== undefined) {
            if (this.#notifications.has(id)) return
            this.#notifications.add(id)
            if (this.#notifications.size > 1000) this.#notifications.delete(this.#notifications.values().next().value!)
          }
          this.emit('notification', { channel: frame.channel, type: 'notification', data: frame.data as ChannelEvent<'notification'>['data'] })
        }
        this.unread._event(frame)
        this.#channels.get(frame.channel)?._event(frame)
        break
      }
      case 'error': {
        this.emit('error', frame)
        // Refused subscribes name no channel in the frame: the one still waiting, if only one is.
        const waiting = [...this.#channels.values()].filter((c) => c.state === 'subscribing')
        if (waiting.length === 1 && frame.code !== 'rate_limited') waiting[0]._refused(frame.code, frame.message)
        break
      }
    }
  }

  /** The socket `ws` ended (closed by either side, or given up on): decide whether and when to reconnect. */
  #ended (ws: WebSocketLike, code: number, reason: string, abandon: boolean): void {
    if (ws !== this.#ws) return
    this.#ws = null
    ws.onmessage = ws.onclose = ws.onerror = null
    if (abandon) { try { ws.close(code >= 4000 ? code : Close.NORMAL, reason) } catch { /* already closing */ } }
    const wasReady = this.#ready
    this.#ready = false
    for (const t of ['idle', 'dead', 'stable', 'refresh'] as const) this.#clear(t)
    for (const channel of this.#channels.values()) channel._disconnected()
    if (this.#stopped) {
      this.#setState('disconnected')
      this.emit('disconnected', { code, reason, reconnect: false })
      return
    }
    if (code === ClientClose.TOKEN_REFRESH) return this.#retryLater(code, reason, 0)
    if (code === Close.TOKEN_EXPIRED) {
      if (!this.#opts.getToken) return this.#fail('token_expired', code, 'the token expired and there is no getToken to renew it')
      this.#token = undefined // the next connect asks getToken
      return this.#retryLater(code, reason, 0)
    }
    if (POLICY_CLOSES.has(code)) return this.#fail('policy', code, `the server closed the connection (${code}${reason ? `: ${reason}` : ''}); reconnecting would repeat it`)
    if (!wasReady) { void this.#refused(code, reason); return }
    this.#retryLater(code, reason)
  }

  /** A connection that never became ready: was the upgrade refused (401, 403), or is the server away? */
  async #refused (code: number, reason: string): Promise<void> {
    const status = this.#upgradeStatus ?? await this.#probe()
    if (this.#stopped || this.#ws) return
    if (status === 401) {
      if (this.#opts.getToken && !this.#tokenRetried) {
        this.#tokenRetried = true
        this.#token = undefined
        return this.#retryLater(code, reason, 0)
      }
      return this.#fail('unauthorized', code, 'the server refused the token (401)')
    }
    if (status === 403) return this.#fail('forbidden', code, 'the server refused the connection (403)')
    this.#retryLater(code, reason)
  }

  /** Browsers hide a refused upgrade's status: the HTTP API answers the same token the same way. */
  async #probe (): Promise<number | null> {
    if (this.#opts.api === undefined) return null
    if (!this.#token && !this.#opts.getToken) return null
    const channel = this.#channels.keys().next().value ?? 'general'
    try {
      await this.api.request('GET', `/api/channels/${encodeURIComponent(channel)}/presence`, undefined, true)
      return 200
    } catch (err) {
      return (err as { status?: number }).status ?? null
    }
  }

  #retryLater (code: number, reason: string, delay = this.#backoff.next()): void {
    this.#setState('disconnected')
    this.emit('disconnected', { code, reason, reconnect: true, delay })
    this.#clear('retry')
    this.#timers.retry = this.#clock.setTimeout(() => { void this.#open() }, delay)
  }

  #fail (reason: FailureReason, code: number, message: string): void {
    this.#stopped = true
    this.#setState('disconnected')
    this.emit('disconnected', { code, reason: message, reconnect: false })
    this.emit('failed', { reason, code, message })
  }

  #setState (state: ConnectionState): void {
    if (this.#state === state) return
    this.#state = state
    this.emit('state', state)
  }

  #send (frame: ClientFrame): boolean {
    const ws = this.#ws
    if (!ws || !this.#ready || ws.readyState !== 1) return false
    ws.send(JSON.stringify(frame))
    return true
  }

  #clear (timer: TimerName): void {
    if (this.#timers[timer] !== null) this.#clock.clearTimeout(this.#timers[timer])
    this.#timers[timer] = null
  }

  /** Every frame re-arms: `idle` ms of silence sends a ping, `timeout` ms more gives the socket up. */
  #armLiveness (ws: WebSocketLike): void {
    const liveness = this.#opts.liveness
    if (liveness === false) return
    const idle = liveness?.idle ?? 30_000
    const timeout = liveness?.timeout ?? 10_000
    this.#clear('idle')
    this.#clear('dead')
    this.#timers.idle = this.#clock.setTimeout(() => {
      if (ws.readyState === 1) ws.send(JSON.stringify({ op: 'ping' } satisfies ClientFrame))
      this.#timers.dead = this.#clock.setTimeout(() => this.#ended(ws, ClientClose.DEAD, `no frame within ${idle + timeout} ms`, true), timeout)
    }, idle)
  }

  async #currentToken (): Promise<string | undefined> {
    if (this.#token !== undefined || !this.#opts.getToken) return this.#token
    return this.#refreshToken()
  }

  #refreshing: Promise<string> | null = null
  /** One getToken call at a time, shared by the socket and the HTTP helpers. */
  #refreshToken (): Promise<string> {
    this.#refreshing ??= (async () => {
      try {
        const token = await this.#opts.getToken!()
        this.#token = token
        this.emit('token', { expiresAt: tokenExpiry(token) })
        return token
      } finally {
        this.#refreshing = null
      }
    })()
    return this.#refreshing
  }

  /** Before the token's exp: a fresh token, then a reconnect with it (subscriptions resume from their positions). */
  #scheduleRefresh (): void {
    const before = this.#opts.refreshBefore ?? 30_000
    if (!this.#opts.getToken || before <= 0 || !this.#token) return
    const exp = tokenExpiry(this.#token)
    if (exp === null) return
    const delay = exp - before - this.#clock.now()
    if (delay <= 0) return // a token already that close to its exp: close 4401 will renew it
    const ws = this.#ws
    this.#timers.refresh = this.#clock.setTimeout(async () => {
      try { await this.#refreshToken() } catch { return } // keep the socket: 4401 will try again
      if (ws && ws === this.#ws) this.#ended(ws, ClientClose.TOKEN_REFRESH, 'token refreshed', true)
    }, delay)
  }
}

/** A client for one switchboard deployment (see README.md). */
export function createClient (opts: ClientOptions): SwitchboardClient {
  return new SwitchboardClient(opts)
}
