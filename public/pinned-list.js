// A channel's pinned messages as the page shows them. Pin events carry no position and are never
// replayed, so the list is read with `channel.pins()` on every (re)subscribe, then kept by
// `pin.added` / `pin.removed`, keeping the highest `version` per message (two changes of one pin
// may arrive in another order than they were made).
export class PinnedList {
  #pins = new Map() // messageId → { message, pinnedBy, at }
  #versions = new Map()

  /** @param lookup (messageId) → the message as the page holds it now, or undefined */
  constructor (channel, lookup, onchange) {
    this.channel = channel
    this.lookup = lookup
    this.onchange = onchange
  }

  has (messageId) { return this.#pins.has(messageId) }

  /** Newest pin first, each with the message as the page holds it now (edits included). */
  get entries () {
    return [...this.#pins.values()].sort((a, b) => b.at - a.at).map((p) => ({ ...p, message: this.lookup(p.message.id) ?? p.message }))
  }

  async load () {
    const pins = await this.channel.pins()
    this.#pins = new Map(pins.map((p) => [p.message.id, { message: p.message, pinnedBy: p.pinnedBy, at: Date.parse(p.pinnedAt) }]))
    this.onchange()
  }

  /** A live `pin.added` / `pin.removed`. */
  apply (type, { messageId, userId, version }) {
    if ((this.#versions.get(messageId) ?? 0) >= version) return
    this.#versions.set(messageId, version)
    if (type === 'pin.removed') {
      this.#pins.delete(messageId)
      this.onchange()
      return
    }
    const message = this.lookup(messageId)
    // a message older than the history the page holds: the list from the server has it
    if (!message) { this.load().catch(() => {}); return }
    this.#pins.set(messageId, { message, pinnedBy: userId, at: Date.now() })
    this.onchange()
  }
}
