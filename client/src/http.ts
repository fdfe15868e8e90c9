// Typed helpers for every HTTP route. Failures throw SwitchboardError carrying the server's message.
// Posts carry a nonce (made here unless given), so retrying one after a lost answer or a 503 returns
// the first message instead of posting a second one.
import { Backoff, type BackoffOptions } from './backoff.ts'
import type { ChannelInfo, Clock, CreateChannelBody, HistoryPage, Message, PinList, PresenceResponse, ReceiptsResponse, UnreadResponse, UserSettings, RepliesPage } from './types.ts'

/** An error answer (`{statusCode, error, message}`), or a request that never got one (status 0). */
export class SwitchboardError extends Error {
  constructor (message: string, readonly status: number, readonly error: string, override readonly cause?: unknown) {
    super(message)
    this.name = 'SwitchboardError'
  }

  /** Worth retrying with the same request: no answer, or the server said a dependency is down. */
  get retryable (): boolean { return this.status === 0 || this.status === 503 }
}

export interface RetryOptions extends BackoffOptions {
  /** attempts in all, the first included (default 5) */
  attempts?: number
}

export interface ApiOptions {
  /** base URL of the HTTP API, e.g. `http://localhost:5001` */
  api: string
  fetch: typeof fetch
  /** headers that identify the caller (Authorization, or x-user-id with auth off) */
  identify: () => Promise<Record<string, string>>
  /** called on a 401: true when a fresh token was obtained and the request may be sent again */
  refresh?: () => Promise<boolean>
  retry?: RetryOptions
  clock: Clock
  random?: () => number
}

export interface PostInput {
  channelId: string
  content: string
  nonce?: string
  /** a reply in the thread of this message (of the same channel) */
  parentId?: string
  /** a reply also shown in the channel's history */
  alsoInChannel?: boolean
}
export interface HistoryQuery { before?: string, limit?: number }
export interface RepliesQuery { after?: string, limit?: number }

const enc = encodeURIComponent

export function makeNonce (): string {
  const c = (globalThis as { crypto?: { randomUUID?: () => string } }).crypto
  return c?.randomUUID?.() ?? `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}-${Math.random().toString(36).slice(2)}`
}

export class Api {
  readonly #opts: ApiOptions
  constructor (opts: ApiOptions) { this.#opts = opts }

  /** POST /api/messages: retried on 503 and network errors with one nonce, so it posts once. */
  post (input: PostInput): Promise<Message> {
    const body = { ...input, nonce: input.nonce ?? makeNonce() }
    return this.#retrying(() => this.request<Message>('POST', '/api/messages', body))
  }

  /** PATCH /api/messages/:id (author only). */
  edit (id: string, content: string): Promise<Message> { return this.request('PATCH', `/api/messages/${enc(id)}`, { content }) }
  /** DELETE /api/messages/:id (author only). */
  async delete (id: string): Promise<void> { await this.request('DELETE', `/api/messages/${enc(id)}`) }
  /** PUT /api/messages/:id/reactions/:emoji (a set: retried safely). */
  async react (id: string, emoji: string): Promise<void> { await this.#retrying(() => this.request('PUT', `/api/messages/${enc(id)}/reactions/${enc(emoji)}`)) }
  /** DELETE /api/messages/:id/reactions/:emoji (a set: retried safely). */
  async unreact (id: string, emoji: string): Promise<void> { await this.#retrying(() => this.request('DELETE', `/api/messages/${enc(id)}/reactions/${enc(emoji)}`)) }
  /** PUT /api/channels/:channelId/pins/:messageId (a set: retried safely); a 409 when the channel has PINS_MAX pins. */
  async pin (channelId: string, messageId: string): Promise<void> { await this.#retrying(() => this.request('PUT', `/api/channels/${enc(channelId)}/pins/${enc(messageId)}`)) }
  /** DELETE /api/channels/:channelId/pins/:messageId (a set: retried safely). */
  async unpin (channelId: string, messageId: string): Promise<void> { await this.#retrying(() => this.request('DELETE', `/api/channels/${enc(channelId)}/pins/${enc(messageId)}`)) }
  /** GET /api/channels/:channelId/pins: the pinned messages, newest pin first. */
  pins (channelId: string): Promise<PinList> { return this.#retrying(() => this.request('GET', `/api/channels/${enc(channelId)}/pins`)) }
  /** POST /api/channels/:channelId/typing */
  async typing (channelId: string): Promise<void> { await this.request('POST', `/api/channels/${enc(channelId)}/typing`) }

  /** GET /api/channels/:channelId/messages: newest first; pass `nextBefore` as `before` to page back. */
  history (channelId: string, query: HistoryQuery = {}): Promise<HistoryPage> {
    const params = new URLSearchParams()
    if (query.before !== undefined) params.set('before', query.before)
    if (query.limit !== undefined) params.set('limit', String(query.limit))
    const qs = params.toString() ? `?${params}` : ''
    return this.#retrying(() => this.request('GET', `/api/channels/${enc(channelId)}/messages${qs}`))
  }

  /** GET /api/messages/:id/replies: a thread's replies, oldest first; pass `nextAfter` as `after` for more. */
  replies (parentId: string, query: RepliesQuery = {}): Promise<RepliesPage> {
    const params = new URLSearchParams()
    if (query.after !== undefined) params.set('after', query.after)
    if (query.limit !== undefined) params.set('limit', String(query.limit))
    const qs = params.toString() ? `?${params}` : ''
    return this.#retrying(() => this.request('GET', `/api/messages/${enc(parentId)}/replies${qs}`))
  }

  /** GET /api/channels/:channelId/presence */
  presence (channelId: string): Promise<PresenceResponse> { return this.#retrying(() => this.request('GET', `/api/channels/${enc(channelId)}/presence`)) }
  /** POST /api/channels */
  createChannel (body: CreateChannelBody): Promise<ChannelInfo> { return this.request('POST', '/api/channels', body) }
  /** GET /api/channels/:id */
  getChannel (id: string): Promise<ChannelInfo> { return this.#retrying(() => this.request('GET', `/api/channels/${enc(id)}`)) }
  /** PUT /api/channels/:id/members/:userId */
  async addMember (id: string, userId: string): Promise<void> { await this.request('PUT', `/api/channels/${enc(id)}/members/${enc(userId)}`) }
  /** DELETE /api/channels/:id/members/:userId */
  async removeMember (id: string, userId: string): Promise<void> { await this.request('DELETE', `/api/channels/${enc(id)}/members/${enc(userId)}`) }

  /** PUT /api/channels/:channelId/read: your marker (forward only; `unread` moves it to just before the message). */
  async markRead (channelId: string, messageId: string, unread = false): Promise<void> {
    await this.#retrying(() => this.request('PUT', `/api/channels/${enc(channelId)}/read`, { messageId, ...(unread ? { unread } : {}) }))
  }

  /** GET /api/users/me/unread: unread and mention counts of your channels. */
  unread (): Promise<UnreadResponse> { return this.#retrying(() => this.request('GET', '/api/users/me/unread')) }

  /** GET /api/messages/:id/receipts: who has read it (readBy null in big channels). */
  receipts (id: string): Promise<ReceiptsResponse> { return this.#retrying(() => this.request('GET', `/api/messages/${enc(id)}/receipts`)) }

  /** PUT /api/users/me/settings: `{receipts: false}` hides you from receipts. */
  settings (settings: UserSettings): Promise<UserSettings> { return this.request('PUT', '/api/users/me/settings', settings) }

  /** One request: the parsed body, or a SwitchboardError with the server's message. A 401 refreshes the token once. */
  async request<T> (method: string, path: string, body?: unknown, refreshed = false): Promise<T> {
    const { api, fetch, identify, refresh } = this.#opts
    const headers: Record<string, string> = { ...await identify() }
    if (body !== undefined) headers['content-type'] = 'application/json'
    let res: Response
    try {
      res = await fetch(`${api.replace(/\/$/, '')}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) })
    } catch (err) {
      throw new SwitchboardError(`${method} ${path}: no answer (${(err as Error)?.message ?? err})`, 0, 'Network Error', err)
    }
    if (res.status === 401 && !refreshed && refresh && await refresh()) return this.request(method, path, body, true)
    const text = await res.text()
    let data: any = null
    try { data = text ? JSON.parse(text) : null } catch { /* not JSON: described below */ }
    if (!res.ok) {
      const message = typeof data?.message === 'string' ? data.message : `${method} ${path}: ${res.status} ${res.statusText}`
      throw new SwitchboardError(message, res.status, typeof data?.error === 'string' ? data.error : res.statusText)
    }
    return data as T
  }

  async #retrying<T> (send: () => Promise<T>): Promise<T> {
    const { retry = {}, clock, random } = this.#opts
    const attempts = retry.attempts ?? 5
    const backoff = new Backoff({ initialDelay: retry.initialDelay ?? 200, maxDelay: retry.maxDelay ?? 5000, factor: retry.factor }, random)
    for (let attempt = 1; ; attempt++) {
      try {
        return await send()
      } catch (err) {
        if (!(err instanceof SwitchboardError) || !err.retryable || attempt >= attempts) throw err
        await new Promise<void>((resolve) => { clock.setTimeout(resolve, backoff.next()) })
      }
    }
  }
}
