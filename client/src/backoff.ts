// Reconnect delays: exponential backoff with full jitter (a uniform draw between 0 and the capped
// exponential), so that clients cut off together do not come back together.
export interface BackoffOptions {
  /** ms: the cap of the first retry's draw (default 500) */
  initialDelay?: number
  /** ms: the largest cap (default 30 000) */
  maxDelay?: number
  /** growth of the cap per failed attempt (default 2) */
  factor?: number
}

export class Backoff {
  readonly initialDelay: number
  readonly maxDelay: number
  readonly factor: number
  attempt = 0

  constructor (opts: BackoffOptions = {}, private readonly random: () => number = Math.random) {
    this.initialDelay = opts.initialDelay ?? 500
    this.maxDelay = opts.maxDelay ?? 30_000
    this.factor = opts.factor ?? 2
    if (!(this.initialDelay >= 0 && this.maxDelay >= this.initialDelay && this.factor >= 1)) {
      throw new RangeError('backoff needs 0 <= initialDelay <= maxDelay and factor >= 1')
    }
  }

  /** The cap for the current attempt. */
  get cap (): number { return Math.min(this.maxDelay, this.initialDelay * this.factor ** this.attempt) }

  /** The delay before the next attempt (a draw in [0, cap)), and one more failed attempt counted. */
  next (): number {
    const delay = Math.floor(this.random() * this.cap)
    this.attempt++
    return delay
  }

  reset (): void { this.attempt = 0 }
}
