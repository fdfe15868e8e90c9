// The moderation contract: a check sees a message before it is accepted and may refuse it.
/** What a check sees: the message as it would be accepted (new or edited). */
export interface ModeratedMessage {
  channelId: string
  senderId: string
  content: string
  /** set for edits */
  id?: string
}

/** A refusal: `rule` names what matched (shown to the sender in the 422). */
export interface ModerationVerdict { rule: string, reason?: string }

export interface ModerationCheck {
  /** unique; a second registration with the same name replaces the first */
  name: string
  check (message: ModeratedMessage): ModerationVerdict | undefined | Promise<ModerationVerdict | undefined>
}
