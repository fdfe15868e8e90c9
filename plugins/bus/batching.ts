// Natural batching for produce calls: while one request is in flight, the calls that arrive wait and
// then go out together as the next request. An idle log sees each call at once (no linger, no added
// latency); a busy one sees fewer, larger requests instead of a queue of single-record round trips.
// kafkajs needs this: its idempotent producer holds a per-broker lock around every produce request.
// The linger starts after each answer, so it paces requests. Kafka's producer counts `linger.ms`
// from a batch's first record instead; measured here that way (BENCHMARKS.md, Session 6), the
// median fell but p99 rose, from the extra produce requests and the fetches each one wakes.

export interface BatcherOptions {
  /** most items in one request */
  maxBatch: number
  /** an item that waited longer than this for its turn fails without being sent (ms) */
  maxWaitMs: number
  /**
   * While busy (a request just completed and more calls wait), wait this long for more calls before
   * the next request (ms; default 0). An idle batcher still sends the first call at once: the delay
   * is only paid under load, where it makes fewer, larger requests (every request to the log also
   * wakes every consumer's fetch).
   */
  lingerMs?: number
}

/** An item of a request that failed alone (its neighbours' results stand): `send` answers it in its place. */
export class ItemFailure {
  constructor (readonly reason: unknown) {}
}

interface Entry<T, R> { item: T, queuedAt: number, resolve: (r: R) => void, reject: (err: unknown) => void }

/**
 * Wraps `send` (one request for many items, answering one result per item, in order: an
 * `ItemFailure` rejects that item alone, a rejection of `send` every item) into a function of one
 * item. Items keep their call order across and within requests.
 */
export function createBatcher<T, R> (send: (items: T[]) => Promise<Array<R | ItemFailure>>, opts: BatcherOptions): (item: T) => Promise<R> {
  let queue: Entry<T, R>[] = []
  let running = false

  async function drain (): Promise<void> {
    let busy = false // true after the first request of this busy spell
    while (queue.length > 0) {
      if (busy && opts.lingerMs && queue.length < opts.maxBatch) await new Promise<void>((resolve) => setTimeout(resolve, opts.lingerMs))
      busy = true
      const now = Date.now()
      const batch = queue.slice(0, opts.maxBatch)
      queue = queue.slice(batch.length)
      const ready = batch.filter((e) => {
        if (now - e.queuedAt <= opts.maxWaitMs) return true
        e.reject(new Error(`waited over ${opts.maxWaitMs} ms behind earlier requests`))
        return false
      })
      if (ready.length === 0) continue
      try {
        const results = await send(ready.map((e) => e.item))
        if (results.length !== ready.length) throw new Error(`batch send answered ${results.length} results for ${ready.length} items`)
        ready.forEach((e, i) => {
          const result = results[i]
          if (result instanceof ItemFailure) e.reject(result.reason)
          else e.resolve(result)
        })
      } catch (err) {
        for (const e of ready) e.reject(err)
      }
    }
    running = false
  }

  return (item: T) => new Promise<R>((resolve, reject) => {
    queue.push({ item, queuedAt: Date.now(), resolve, reject })
    if (!running) {
      running = true
      // calls made in the same tick join the first request
      queueMicrotask(() => { void drain() })
    }
  })
}
