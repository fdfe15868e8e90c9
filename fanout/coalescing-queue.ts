// One connection's lifecycle writes, in order, with a bound. While the log is down each write is
// retried, and every later one waits behind it: without a bound the queue grows with every frame
// for as long as the outage lasts (issue 24, N5). At the bound, subscription changes give way first:
// two queued changes of one channel cancel out (a subscribe and its unsubscribe, or the reverse), then
// the oldest change goes. Work without a channel (`connected`, `disconnected`) is never dropped.

export interface QueuedWork {
  /** set for a subscription change of this channel (coalescible); unset: never dropped */
  channel?: string
  /** the write; it handles its own errors (a rejection is passed to `onError`) */
  run: () => Promise<void>
}

interface Item extends QueuedWork { done: () => void }

export interface CoalescingQueueOptions {
  /** queued items (the one running aside) above which subscription changes are coalesced, then dropped */
  limit: number
  /** how many subscription changes the bound took out: `cancelled` in pairs, `dropped` alone */
  onShed?: (shed: { cancelled: number, dropped: number }) => void
  onError?: (err: unknown) => void
}

export class CoalescingQueue {
  #items: Item[] = []
  #running = false
  readonly #opts: CoalescingQueueOptions

  constructor (opts: CoalescingQueueOptions) { this.#opts = opts }

  /** Items waiting (the one running not included). */
  get size (): number { return this.#items.length }

  /** Queues `work` behind the others; resolves once it has run, or been taken out by the bound. */
  push (work: QueuedWork): Promise<void> {
    return new Promise<void>((resolve) => {
      this.#items.push({ ...work, done: resolve })
      if (this.#items.length > this.#opts.limit) this.#shed()
      if (!this.#running) void this.#drain()
    })
  }

  async #drain (): Promise<void> {
    this.#running = true
    for (let item = this.#items.shift(); item; item = this.#items.shift()) {
      try { await item.run() } catch (err) { this.#opts.onError?.(err) }
      item.done()
    }
    this.#running = false
  }

  #shed (): void {
    const out = new Set<Item>()
    // Changes of one channel alternate (subscribed, unsubscribed, …): any two in a row cancel out.
    const open = new Map<string, Item>()
    for (const item of this.#items) {
      if (item.channel === undefined) continue
      const before = open.get(item.channel)
      if (before) { out.add(before).add(item); open.delete(item.channel) } else open.set(item.channel, item)
    }
    const cancelled = out.size
    for (const item of this.#items) {
      if (this.#items.length - out.size <= this.#opts.limit) break
      if (item.channel !== undefined) out.add(item)
    }
    if (out.size === 0) return
    this.#items = this.#items.filter((item) => !out.has(item))
    for (const item of out) item.done()
    this.#opts.onShed?.({ cancelled, dropped: out.size - cancelled })
  }
}
