// The per-instance ring buffer of recent message events, per channel, fed by every positioned
// publish (the hub's `onPublished` tap, wired in index.ts). Bounded three times: `size` events per channel, `maxChannels` channels (least recently
// written dropped first) and `maxBytes` bytes of frames in all (frames reach ~24 kB, so counting
// events alone bounds nothing useful). It also tracks, per epoch (partition), the window of offsets it saw
// without a hole, which is what lets it prove that a channel had no other events in a range.
import type { Position } from '../../schemas/message.ts'
import { revise, type ChannelWindow, type RecoveredEvent, type Revision } from './plan.ts'

/** The per-instance recovery buffer's bounds (RECOVERY_BUFFER, RECOVERY_CHANNELS, RECOVERY_BUFFER_BYTES). */
export interface RecoveryBufferOptions {
  /** message events kept per channel; default 100 */
  size?: number
  /** channels kept; default 1000 */
  maxChannels?: number
  /** UTF-8 bytes of frames kept, all channels together; default 50 MiB */
  maxBytes?: number
}

/** Offsets [from, high] of one partition were all seen, in order, with no hole. */
interface PartitionWindow { from: bigint, high: bigint }
/** `revised`: offset of the last revision applied (revisions come in stream order; an older one is a redelivery). */
interface ChannelBuffer { epoch: string, floor: bigint, last: bigint, events: RecoveredEvent[], bytes: number, revised: bigint }

const max = (a: bigint, b: bigint) => (a > b ? a : b)

export class RecoveryBuffer {
  readonly size: number
  readonly maxChannels: number
  readonly maxBytes: number
  #bytes = 0
  readonly #partitions = new Map<string, PartitionWindow>()
  readonly #channels = new Map<string, ChannelBuffer>()

  constructor (opts: RecoveryBufferOptions = {}) {
    this.size = opts.size ?? 100
    this.maxChannels = opts.maxChannels ?? 1000
    this.maxBytes = opts.maxBytes ?? 50 * 1024 * 1024
  }

  /** Records a published message event. O(1) per event (amortised), whatever the subscriber count. */
  remember (channel: string, position: Position, frame: string): void {
    const offset = BigInt(position.offset)
    let partition = this.#partitions.get(position.epoch)
    if (!partition) this.#partitions.set(position.epoch, partition = { from: offset, high: offset })
    else if (offset <= partition.high) return // a redelivered record: already known
    // A hole (a record that never reached the fanout: skipped, or not a message event): nothing
    // before this offset is proven any more.
    else if (offset !== partition.high + 1n) partition.from = offset
    partition.high = offset

    let buffer = this.#channels.get(channel)
    if (buffer) this.#channels.delete(channel) // re-inserted below: the Map's order is the LRU order
    if (!buffer || buffer.epoch !== position.epoch) {
      if (buffer) this.#bytes -= buffer.bytes
      // Every record since `from` went through here and none was this channel's: that is the floor.
      buffer = { epoch: position.epoch, floor: partition.from - 1n, last: offset, events: [], bytes: 0, revised: -1n }
    }
    this.#channels.set(channel, buffer)
    buffer.last = offset
    buffer.events.push({ offset: position.offset, frame })
    this.#add(buffer, Buffer.byteLength(frame))
    if (buffer.events.length > this.size) this.#trim(buffer)
    if (this.#channels.size > this.maxChannels) this.#evictOldest()
    this.#fit(buffer)
  }

  /**
   * Message `revision.id` was edited or deleted by the event at `position` (already remembered):
   * its earlier frames in the channel's buffer are rewritten to match (a deleted message's become
   * its deletion, an edited one's carry the current text), so a replay serves current state.
   * Offsets stay, and with them every proof. Cheap: edits and deletions are rare, and only frames
   * holding the message's id are parsed.
   */
  revise (channel: string, position: Position, revision: Revision): void {
    const buffer = this.#channels.get(channel)
    if (!buffer || buffer.epoch !== position.epoch) return
    const offset = BigInt(position.offset)
    // A redelivered (older) revision must not undo a newer one.
    if (offset <= buffer.revised) return
    buffer.revised = offset
    for (let i = 0; i < buffer.events.length; i++) {
      const event = buffer.events[i]
      if (BigInt(event.offset) >= offset) break // oldest first; the event itself is current already
      const frame = revise(event.frame, revision)
      if (frame === null || frame === event.frame) continue
      this.#add(buffer, Buffer.byteLength(frame) - Buffer.byteLength(event.frame))
      buffer.events[i] = { offset: event.offset, frame }
    }
    this.#fit(buffer) // a longer text may push the buffer over its byte bound
  }

  /** What this buffer can prove about `channel` in `epoch`; null when it never saw that partition. */
  window (channel: string, epoch: string): ChannelWindow | null {
    const partition = this.#partitions.get(epoch)
    if (!partition) return null
    const buffer = this.#channels.get(channel)
    if (buffer && buffer.epoch !== epoch) return null
    const floor = buffer ? max(buffer.floor, partition.from - 1n) : partition.from - 1n
    return { epoch, floor: floor.toString(), high: partition.high.toString(), events: buffer?.events ?? [] }
  }

  /** The channel's window in the epoch of its latest event, or null when the channel is unknown here. */
  latest (channel: string): ChannelWindow | null {
    const buffer = this.#channels.get(channel)
    return buffer ? this.window(channel, buffer.epoch) : null
  }

  get channelCount (): number { return this.#channels.size }

  /** UTF-8 bytes of the frames held now (at most `maxBytes`). */
  get bytes (): number { return this.#bytes }

  #add (buffer: ChannelBuffer, bytes: number): void {
    buffer.bytes += bytes
    this.#bytes += bytes
  }

  /**
   * Back under the byte bound: whole channels go, least recently written first; `buffer` (the one
   * just written) is trimmed from its oldest event only when it is the last one left.
   */
  #fit (buffer: ChannelBuffer): void {
    while (this.#bytes > this.maxBytes) {
      if (this.#channels.size > 1) this.#evictOldest()
      else if (buffer.events.length > 0) this.#trim(buffer)
      else break
    }
  }

  /** Drops the channel's oldest event; its offset becomes the floor (nothing at or below it is proven). */
  #trim (buffer: ChannelBuffer): void {
    const dropped = buffer.events.shift()!
    buffer.floor = BigInt(dropped.offset)
    this.#add(buffer, -Buffer.byteLength(dropped.frame))
  }

  #evictOldest (): void {
    const [name, evicted] = this.#channels.entries().next().value as [string, ChannelBuffer]
    this.#channels.delete(name)
    this.#bytes -= evicted.bytes
    // Forgetting a channel would make its silence look proven: move the partition's proof past it.
    const partition = this.#partitions.get(evicted.epoch)
    if (partition) partition.from = max(partition.from, evicted.last + 1n)
  }
}
