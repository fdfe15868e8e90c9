// Exact delivery accounting: which sequence numbers a subscriber saw on its channel, as a bitmap.
// Nothing here is estimated: lost = acknowledged posts the subscriber never saw, counted bit by bit.

/** A growable set of non-negative integers (sequence numbers), one bit each. */
export class SeqSet {
  bits: Uint8Array
  constructor (capacity = 1024) { this.bits = new Uint8Array(Math.ceil(capacity / 8)) }

  static from (bits: Uint8Array): SeqSet {
    const set = new SeqSet(0)
    set.bits = bits
    return set
  }

  has (seq: number): boolean {
    const byte = seq >> 3
    return byte < this.bits.length && (this.bits[byte] & (1 << (seq & 7))) !== 0
  }

  /** Adds seq; false when it was already there. */
  add (seq: number): boolean {
    const byte = seq >> 3
    if (byte >= this.bits.length) {
      const grown = new Uint8Array(Math.max(byte + 1, this.bits.length * 2))
      grown.set(this.bits)
      this.bits = grown
    }
    const mask = 1 << (seq & 7)
    if (this.bits[byte] & mask) return false
    this.bits[byte] |= mask
    return true
  }
}

export type Outcome = 'new' | 'duplicate' | 'out-of-order'

/** What one subscriber saw of one channel. */
export class ChannelTally {
  readonly seen = new SeqSet()
  highest = -1

  /** A duplicate is a sequence seen before; out of order, a new sequence below the highest seen. */
  record (seq: number): Outcome {
    if (!this.seen.add(seq)) return 'duplicate'
    if (seq < this.highest) return 'out-of-order'
    this.highest = seq
    return 'new'
  }

  /** Acknowledged posts this subscriber never received, and deliveries of posts never acknowledged. */
  reconcile (acked: SeqSet, ackedCount: number): { lost: number, unacknowledged: number, delivered: number } {
    let delivered = 0
    let unacknowledged = 0
    const seen = this.seen.bits
    for (let byte = 0; byte < seen.length; byte++) {
      const s = seen[byte]
      if (s === 0) continue
      const a = byte < acked.bits.length ? acked.bits[byte] : 0
      delivered += popcount(s & a)
      unacknowledged += popcount(s & ~a & 0xff)
    }
    return { lost: ackedCount - delivered, unacknowledged, delivered }
  }
}

function popcount (b: number): number {
  b = b - ((b >> 1) & 0x55)
  b = (b & 0x33) + ((b >> 2) & 0x33)
  return (b + (b >> 4)) & 0x0f
}
