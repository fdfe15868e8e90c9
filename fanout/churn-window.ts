// Subscribe/unsubscribe churn, absorbed where it is reported. A subscription is reported (a
// `subscribed` record on `connections`, a presence join) only once it has lasted the window; one
// undone sooner is reported neither begun nor ended. Each frame within the frame budget would
// otherwise become a replicated Kafka record and a presence event for every subscriber (issue 24, N5).

interface Held { timer: NodeJS.Timeout, done: () => void }

export class ChurnWindow {
  readonly #held = new Map<string, Map<string, Held>>()

  /** `ms`: how long a subscription must last to be reported (0: at once, nothing is held). */
  constructor (readonly ms: number) {}

  /**
   * Runs `report` once the connection's subscription to `channel` has lasted the window. Resolves
   * when `report` has, or at once when the subscription is released first (then it never runs).
   */
  hold (connectionId: string, channel: string, report: () => Promise<void>): Promise<void> {
    if (this.ms === 0) return report()
    this.release(connectionId, channel) // a channel is subscribed once per connection: a leftover is stale
    return new Promise<void>((resolve) => {
      let held = this.#held.get(connectionId)
      if (!held) this.#held.set(connectionId, held = new Map())
      const timer = setTimeout(() => {
        this.#forget(connectionId, channel)
        report().then(resolve, resolve)
      }, this.ms)
      held.set(channel, { timer, done: resolve })
    })
  }

  /** The subscription ended: true when it was still held, so nothing of it was (or will be) reported. */
  release (connectionId: string, channel: string): boolean {
    const entry = this.#held.get(connectionId)?.get(channel)
    if (!entry) return false
    clearTimeout(entry.timer)
    this.#forget(connectionId, channel)
    entry.done()
    return true
  }

  /** The connection is gone: its held subscriptions are never reported. */
  releaseAll (connectionId: string): void {
    for (const channel of [...this.#held.get(connectionId)?.keys() ?? []]) this.release(connectionId, channel)
  }

  #forget (connectionId: string, channel: string): void {
    const held = this.#held.get(connectionId)
    if (held?.delete(channel) && held.size === 0) this.#held.delete(connectionId)
  }
}
