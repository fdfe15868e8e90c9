// The pin store contract: which messages each channel has pinned, kept by the `pins` topic's
// handler (consumers/pins-store.ts) from the log, idempotently.

/** A change of one pin, as its event carries it. */
export interface PinUpdate {
  channelId: string
  messageId: string
  pinned: boolean
  /** Who pinned or unpinned it; absent when its message was deleted. */
  userId?: string
  /** When the change was made (the event's `at`). */
  at: string
  /** The reservation's clock (plugins/pins/reservations.ts): a higher version is a later change. */
  version: number
}

/** A pinned message of a channel. */
export interface PinRecord { channelId: string, messageId: string, pinnedBy: string, pinnedAt: string, version: number }

export interface PinStore {
  readonly kind: 'embedded' | 'mongo'
  /**
   * Applies a change unless the pin has one at or above its version already (a replay, or a change
   * that reached the log ahead of an older one): state never goes backwards. Every pin remembers its
   * last version, unpinned ones too. Pinning a pinned message keeps who pinned it and when (only
   * its version moves). Resolves with whether it applied.
   */
  apply (update: PinUpdate): Promise<boolean>
  /** The channel's pinned messages, newest pin first (by `pinnedAt`, then version). */
  list (channelId: string): Promise<PinRecord[]>
  ping (): Promise<void>
  close (): Promise<void>
}
