// At most one `receipt.read` per user and channel per second. It lives in the read-markers store
// handler: markers are keyed by user, so all of one user's markers are handled by one consumer at a
// time and this in-process throttle is the cluster's. A rebalance that moves the partition starts a
// fresh throttle there: at most one extra receipt per user and channel, never a lost one (the last
// marker of a burst is sent when its second is over: a trailing send).
export interface ReceiptThrottle {
  /** Sends now if this key sent nothing in the last interval, else once the interval is over (the latest offer wins). */
  offer (key: string, send: () => Promise<void>): void
  /** Drops the pending sends (the app closes). */
  stop (): void
}

export interface ThrottleClock {
  now (): number
  setTimeout (fn: () => void, ms: number): unknown
  clearTimeout (timer: unknown): void
}

const systemClock: ThrottleClock = { now: () => Date.now(), setTimeout: (fn, ms) => setTimeout(fn, ms), clearTimeout: (t) => clearTimeout(t as NodeJS.Timeout) }

export function createReceiptThrottle (intervalMs: number, onError: (err: unknown) => void, clock: ThrottleClock = systemClock): ReceiptThrottle {
  const last = new Map<string, number>() // key → when it last sent
  const pending = new Map<string, { send: () => Promise<void>, timer: unknown }>()
  const fire = (key: string, send: () => Promise<void>) => {
    last.set(key, clock.now())
    send().catch(onError)
  }
  return {
    offer (key, send) {
      const waiting = pending.get(key)
      if (waiting) { waiting.send = send; return }
      const since = clock.now() - (last.get(key) ?? -Infinity)
      if (since >= intervalMs) { fire(key, send); return }
      const entry = {
        send,
        timer: clock.setTimeout(() => {
          pending.delete(key)
          fire(key, entry.send)
        }, intervalMs - since)
      }
      ;(entry.timer as { unref?(): void }).unref?.()
      pending.set(key, entry)
      // forget keys quiet for a while: the map holds recent senders only
      if (last.size > 100_000) for (const [k, at] of last) if (clock.now() - at >= intervalMs) last.delete(k)
    },
    stop () {
      for (const { timer } of pending.values()) clock.clearTimeout(timer)
      pending.clear()
    }
  }
}
