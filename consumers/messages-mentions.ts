// Tells each user mentioned as `@<userId>` in a new message: one `notification` event per mentioned
// user on the `notifications` topic (key userId). At least once: a redelivered message notifies
// again with the same notification id, which clients use to drop the duplicate.
import { type NotificationEvent } from '../schemas/events.ts'
import { topics } from '../schemas/topics.ts'
import { defineTopicHandler } from '../plugins/topic-handlers.ts'
import { TransientError } from '../plugins/external/errors.ts'
import { PERSONAL_PREFIX } from '../plugins/channels/index.ts'

/** At most this many users are notified per message (a message is not a mailing list). */
export const MAX_MENTIONS = 20
const EXCERPT_LENGTH = 140
// User ids (schemas/message.ts USER_ID); not inside a word or an e-mail address.
const MENTION = /(?<![A-Za-z0-9_.:@-])@([A-Za-z0-9_.:-]{1,120})(?![A-Za-z0-9_.:@-]*@)/g

/** Mentioned user ids in order of first appearance, without sentence punctuation at the end, each once. */
export function mentionedUsers (content: string): string[] {
  const users = new Set<string>()
  for (const match of content.matchAll(MENTION)) {
    const id = match[1].replace(/[.:]+$/, '')
    if (id !== '') users.add(id)
    if (users.size === MAX_MENTIONS) break
  }
  return [...users]
}

export default defineTopicHandler({
  name: 'messages-mentions',
  topic: topics.messages,
  mode: 'shared',
  async handle (event, { app }) {
    // Created only: an edit that adds a mention does not notify (documented in the README).
    if (event.type !== 'message.created') return
    const message = event.data
    const mentioned = mentionedUsers(message.content).filter((userId) => userId !== message.senderId)
    if (mentioned.length === 0) return
    // The excerpt would leak a private channel to someone who may not read it. Membership is read
    // from the store, once per message with mentions, not from this instance's copy
    // (app.channels.get), which lags a change made elsewhere until its `channels` event arrives: a
    // member removed before the message was posted is out of the store before the message is in
    // the log, so gets no excerpt. A store that is down is a transient error: the event waits.
    const personal = message.channelId.startsWith(PERSONAL_PREFIX)
    const channel = personal ? null : await app.channels.store.get(message.channelId)
    const mayRead = (userId: string) => personal
      ? message.channelId === PERSONAL_PREFIX + userId
      : !channel?.private || channel.members.includes(userId)
    const excerpt = [...message.content.trim()].slice(0, EXCERPT_LENGTH).join('')
    for (const userId of mentioned) {
      if (!mayRead(userId)) continue
      const notification: NotificationEvent = {
        v: 1,
        type: 'notification',
        userId,
        at: new Date().toISOString(),
        data: { id: `${message.id}:${userId}`, kind: 'mention', messageId: message.id, channelId: message.channelId, from: message.senderId, fromName: message.senderName, excerpt, createdAt: message.createdAt }
      }
      try {
        await app.events.produce('notifications', userId, notification)
      } catch (err) {
        // The log is down: wait for it (retried without limit), the message event stays in hand.
        throw new TransientError(`could not produce the mention of ${userId}: ${(err as Error).message}`, { cause: err })
      }
    }
  }
})
