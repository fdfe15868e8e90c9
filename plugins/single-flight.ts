// Single-flight: concurrent callers asking for the same key share one read. A reconnect storm sends
// thousands of clients of one channel to the same instance at once, each resubscribing with the
// same `since` or reloading the same history page: one read of Redis or the store answers them all,
// instead of one read per client (issue 25, item 4). Nothing is cached: the read is forgotten as
// soon as it settles, so a later caller always reads afresh.

export interface SingleFlight<V> {
  /** `read()`'s promise, shared with every caller that asks for `key` before it settles. */
  run (key: string, read: () => Promise<V>): Promise<V>
  /** keys being read now */
  readonly size: number
}

export function createSingleFlight<V> (): SingleFlight<V> {
  const flights = new Map<string, Promise<V>>()
  return {
    run (key, read) {
      const shared = flights.get(key)
      if (shared) return shared
      const flight = read().finally(() => flights.delete(key))
      flights.set(key, flight)
      return flight
    },
    get size () { return flights.size }
  }
}
