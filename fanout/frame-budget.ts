// The per-connection budget for client frames: a token bucket. `burst` frames at once, then
// `rate` per second. A frame over the budget is dropped (the client hears it once per run, with a
// `rate_limited` error frame) and still counts: a client that keeps sending reaches `-burst` and
// is closed with 4029. A client that backs off earns its budget back at `rate` per second.

export interface FrameBudgetOptions {
  /** frames per second once the burst is spent; 0 = no limit */
  rate: number
  /** frames a client may send at once (e.g. resubscribing to all its channels after a reconnect) */
  burst: number
  /** milliseconds; injectable for tests */
  now?: () => number
}

/** ok: handle the frame. limited: drop it and send `rate_limited` (first of a run). dropped: drop it quietly. close: past the hard limit. */
export type FrameVerdict = 'ok' | 'limited' | 'dropped' | 'close'

export class FrameBudget {
  readonly #rate: number
  readonly #burst: number
  readonly #now: () => number
  #tokens: number
  #at: number
  #limited = false

  constructor ({ rate, burst, now = Date.now }: FrameBudgetOptions) {
    this.#rate = rate
    this.#burst = burst
    this.#now = now
    this.#tokens = burst
    this.#at = now()
  }

  take (): FrameVerdict {
    if (this.#rate === 0) return 'ok'
    const now = this.#now()
    this.#tokens = Math.min(this.#burst, this.#tokens + (now - this.#at) * this.#rate / 1000)
    this.#at = now
    if (this.#tokens >= 1) {
      this.#tokens--
      this.#limited = false
      return 'ok'
    }
    this.#tokens--
    if (this.#tokens <= -this.#burst) return 'close'
    if (this.#limited) return 'dropped'
    this.#limited = true
    return 'limited'
  }
}
