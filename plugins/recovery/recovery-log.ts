// The shared recovery log contract: each channel's recent message events, as published frames with
// their offsets, written once cluster-wide by a shared topic handler (consumers/messages-recovery.ts)
// and read by any instance when its own buffer starts too late for a resubscribing client.
import type { Position } from '../../schemas/message.ts'
import type { ChannelWindow } from '../../fanout/recovery.ts'

export type { ChannelWindow, RecoveredEvent } from '../../fanout/recovery.ts'

export interface RecoveryLog {
  readonly kind: 'embedded' | 'redis'
  /**
   * Records a message event of `channel` at `position` (its serialised `event` frame). Called for
   * every record of the partition in order; a redelivered offset changes nothing.
   */
  append (channel: string, position: Position, frame: string): Promise<void>
  /** `append` for a partition's batch, in order, in one round trip. */
  appendBatch (entries: RecoveryEntry[]): Promise<void>
  /**
   * The channel in the epoch of its latest recorded event: every event with an offset in
   * (floor, high] (none may be missing), oldest first. Null when the log knows nothing of the channel.
   */
  read (channel: string): Promise<ChannelWindow | null>
}

/** One message event for the recovery log: its channel, position and serialised `event` frame. */
export interface RecoveryEntry { channel: string, position: Position, frame: string }

export interface RecoveryLogOptions {
  /** events kept per channel */
  size: number
  /** lifetime of a quiet channel's log, refreshed on every write */
  ttlSeconds: number
}
