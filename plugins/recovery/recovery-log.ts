// The shared recovery log contract: each channel's recent message events, as published frames with
// their offsets, written once cluster-wide by a shared topic handler (consumers/messages-recovery.ts)
// and read by any instance when its own buffer starts too late for a resubscribing client.
import type { Position } from '../../schemas/message.ts'
import type { ChannelWindow, Revision } from './plan.ts'

export type { ChannelWindow, RecoveredEvent, Revision } from './plan.ts'

export interface RecoveryLog {
  readonly kind: 'embedded' | 'redis'
  /**
   * Records a message event of `channel` at `position` (its serialised `event` frame). Called for
   * every record of the partition in order; a redelivered offset changes nothing. `revision` (an
   * edit or a deletion) also applies to the message's earlier frames: reads serve current state.
   */
  append (channel: string, position: Position, frame: string, revision?: Revision | null): Promise<void>
  /** `append` for a partition's batch, in order, in one round trip. */
  appendBatch (entries: RecoveryEntry[]): Promise<void>
  /**
   * The channel in the epoch of its latest recorded event: every event with an offset in
   * (floor, high] (none may be missing), oldest first, each frame revised by the later edits and
   * deletions of its message. Null when the log knows nothing of the channel.
   *
   * With a `range`, only what a replay after `range.since` needs is read, and only when the log can
   * prove it: a window whose floor is `since` and whose events are those after it (up to `upTo`).
   * A log that cannot prove that range (trimmed or expired past `since`) answers its own floor and
   * no events, without reading them; for another epoch it may also answer null (it keeps each
   * epoch apart); events over `maxBytes` are not read either
   * (`overBudget`, and a window that proves nothing).
   */
  read (channel: string, range?: ReadRange): Promise<ChannelWindow | null>
}

export interface ReadRange {
  /** the client's last position */
  since: Position
  /** the highest offset wanted (what this instance has published); default: the log's high */
  upTo?: string
  /** UTF-8 bytes of frames a replay may have (the hub's replay budget); default: unlimited */
  maxBytes?: number
}

/** One message event for the recovery log: its channel, position, serialised `event` frame and, for an edit or deletion, its revision. */
export interface RecoveryEntry { channel: string, position: Position, frame: string, revision?: Revision | null }

export interface RecoveryLogOptions {
  /** events kept per channel */
  size: number
  /** lifetime of a quiet channel's log, refreshed on every write */
  ttlSeconds: number
}
