// Subscribes in flight. While a subscribe's async hooks run (authorize, recovery lookup), live
// frames of its channel are buffered here; when the hooks answer, `flush` sends, synchronously and
// in this order: `subscribed`, the replay, then the buffered frames the replay did not already
// cover. The caller then joins the socket to the channel in the same tick, so no live frame can be
// lost, duplicated or reordered between the replay and live delivery.
import { compareOffsets, type Position } from '../schemas/message.ts'
import { frames } from './protocol.ts'
import type { SocketHandle, SubscribeResult } from './types.ts'

export interface Pending<C = unknown> {
  readonly conn: C
  readonly channel: string
  readonly buffer: Array<{ frame: string, position?: Position }>
  /** settled: done, cancelled (unsubscribe, disconnect) or failed; buffering has stopped */
  settled: boolean
  /** access to the channel changed while the subscribe was in flight: authorize again before going live */
  accessChanged: boolean
}

/** True when a buffered frame at `position` is already part of a replay that ends at `upTo`. */
export function covered (position: Position | undefined, upTo: Position | null): boolean {
  return !!position && !!upTo && position.epoch === upTo.epoch && compareOffsets(position.offset, upTo.offset) <= 0
}

export class PendingSubscribes<C> {
  readonly #byChannel = new Map<string, Set<Pending<C>>>()

  start (conn: C, channel: string): Pending<C> {
    const pending: Pending<C> = { conn, channel, buffer: [], settled: false, accessChanged: false }
    let set = this.#byChannel.get(channel)
    if (!set) this.#byChannel.set(channel, set = new Set())
    set.add(pending)
    return pending
  }

  /** The subscribes in flight on a channel. */
  of (channel: string): Iterable<Pending<C>> { return this.#byChannel.get(channel) ?? [] }

  /** Stops buffering for a pending subscribe; idempotent. */
  settle (pending: Pending<C>): void {
    pending.settled = true
    const set = this.#byChannel.get(pending.channel)
    if (set?.delete(pending) && set.size === 0) this.#byChannel.delete(pending.channel)
  }

  /** Buffers a live frame for every subscribe in flight on the channel; returns those over `limit`. */
  buffer (channel: string, frame: string, position: Position | undefined, limit: number): Array<Pending<C>> {
    const over: Array<Pending<C>> = []
    for (const pending of this.#byChannel.get(channel) ?? []) {
      pending.buffer.push({ frame, position })
      if (pending.buffer.length > limit) over.push(pending)
    }
    return over
  }

  /** Settles and sends `subscribed`, the replay, then buffered frames not covered by the replay. */
  flush (pending: Pending<C>, handle: SocketHandle, result: SubscribeResult): void {
    this.settle(pending)
    handle.send(frames.subscribed(pending.channel, result.position, result.recovered))
    for (const frame of result.replay ?? []) handle.send(frame)
    for (const { frame, position } of pending.buffer) {
      if (!covered(position, result.position)) handle.send(frame)
    }
  }
}
