// A channel's pinned messages as the page shows them. Pin events carry no position and are never
// replayed, so the list is read with `channel.pins()` on every (re)subscribe, then kept by
// `pin.added` / `pin.removed`, keeping the highest `version` per message (two changes of one pin
// may arrive in another order than they were made).
export class PinnedList {
  #pins = new Map() // messageId → { message, pinnedBy, at }
  #versions = new Map()
  /** the live changes that arrive while a load is on its way: applied again over its answer */
  #duringLoad = null

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
    const during = this.#duringLoad = []
    try {
      const pins = await this.channel.pins()
      if (this.#duringLoad !== during) return // a later load answers instead
      this.#pins = new Map(pins.map((p) => [p.message.id, { message: p.message, pinnedBy: p.pinnedBy, at: Date.parse(p.pinnedAt) }]))
      for (const [type, data] of during) this.#change(type, data, false)
      this.onchange()
    } finally {
      if (this.#duringLoad === during) this.#duringLoad = null
    }
  }

  /** A live `pin.added` / `pin.removed`. */
  apply (type, data) {
    if ((this.#versions.get(data.messageId) ?? 0) >= data.version) return
    this.#versions.set(data.messageId, data.version)
    this.#duringLoad?.push([type, data])
    this.#change(type, data)
    this.onchange()
  }

  #change (type, { messageId, userId }, reload = true) {
    if (type === 'pin.removed') { this.#pins.delete(messageId); return }
    const message = this.lookup(messageId)
    // pinned again: who pinned it first, and when, stay (as on the server)
    const kept = this.#pins.get(messageId)
    if (message) this.#pins.set(messageId, { message, pinnedBy: kept?.pinnedBy ?? userId, at: kept?.at ?? Date.now() })
    // a message older than the history the page holds: the list from the server has it (a new load
    // replaces one on its way, which may have been answered before this pin)
    else if (reload) this.load().catch(() => {})
  }
}
