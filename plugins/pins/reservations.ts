// The pin reservation contract: a channel's places for pins (at most PINS_MAX), taken and given
// back atomically when a pin request is answered, before its event is produced, so that two
// requests racing for the last place cannot both be told 204, and a 204 is never refused later by
// the consumer that stores the pin. It also issues each change's `version`: a per-channel clock
// (at least the time in microseconds, and above every version it issued before), so the store
// (and a client applying live events) can put the changes of one pin in the order they were
// answered, whatever order the log received them in.

/** What a pin request got: a new place, the place it already had (re-stamped), or none. */
export type PinReservation = { outcome: 'new' | 'held', version: number } | { outcome: 'full' } | { outcome: 'unloaded' }

/** What an unpin request got: a version for its event; `held` when the message holds a place. */
export type UnpinStamp = { outcome: 'held' | 'absent', version: number } | { outcome: 'unloaded' }

export interface PinReservations {
  readonly kind: 'embedded' | 'redis'
  /**
   * Takes a place for the message when the channel holds fewer than `max` (or re-stamps the one it
   * holds), with a new version. `unloaded`: the channel's places are not known here (first use, or
   * Redis lost them): `load` them from the store, then ask again.
   */
  pin (channelId: string, messageId: string, max: number, nowMicros: number): Promise<PinReservation>
  /** A new version for unpinning the message; its place stays taken until `release` (after the produce). */
  stamp (channelId: string, messageId: string, nowMicros: number): Promise<UnpinStamp>
  /**
   * Gives the message's place back if `version` is still its latest (no request stamped it since):
   * after an unpin's event is in the log, or to undo a new pin whose event could not be produced.
   * Resolves with whether it did.
   */
  release (channelId: string, messageId: string, version: number): Promise<boolean>
  /** Seeds the channel's places from the store (pinned message id → version) unless they are known already. */
  load (channelId: string, pinned: ReadonlyMap<string, number>): Promise<void>
  /** Places taken in the channel (0 when unloaded). */
  count (channelId: string): Promise<number>
}
