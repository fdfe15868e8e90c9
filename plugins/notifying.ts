// Notifications about a message (a mention, a reply in a thread), as the handlers of `messages`
// send them: one `notification` event per user on `notifications` (key userId), never to a user
// who may not read the message's channel, whose excerpt would leak it.
import type { FastifyInstance } from 'fastify'
import type { Message } from '../schemas/message.ts'
import type { NotificationEvent } from '../schemas/events.ts'
import { TransientError } from './external/errors.ts'
import { isPersonalChannel, personalChannel } from '../schemas/channel-kinds.ts'

const EXCERPT_LENGTH = 140

type Kind = { kind: 'mention' } | { kind: 'reply', parentId: string }

/**
 * Notifies `users` of `message`. Membership is read from the store, once per message, not from this
 * instance's copy (app.channels.get), which lags a change made elsewhere until its `channels` event
 * arrives: a member removed before the message was posted is out of the store before the message is
 * in the log, so gets no excerpt. A store or log that is down is a transient error: the event waits
 * (retried without limit). At least once: a redelivered message notifies again with the same
 * notification id (`<message id>:<user id>`), which clients use to drop the duplicate.
 */
export async function notifyReaders (app: FastifyInstance, message: Message, users: string[], kind: Kind): Promise<void> {
  if (users.length === 0) return
  const personal = isPersonalChannel(message.channelId)
  const channel = personal ? null : await app.channels.store.get(message.channelId)
  const mayRead = (userId: string) => personal
    ? message.channelId === personalChannel(userId)
    : !channel?.private || channel.members.includes(userId)
  const excerpt = [...message.content.trim()].slice(0, EXCERPT_LENGTH).join('')
  for (const userId of users) {
    if (!mayRead(userId)) continue
    const notification = {
      v: 1,
      type: 'notification',
      userId,
      at: new Date().toISOString(),
      data: { id: `${message.id}:${userId}`, ...kind, messageId: message.id, channelId: message.channelId, from: message.senderId, fromName: message.senderName, excerpt, createdAt: message.createdAt }
    } as NotificationEvent
    try {
      await app.events.produce('notifications', userId, notification)
    } catch (err) {
      throw new TransientError(`could not produce the ${kind.kind} notification of ${userId}: ${(err as Error).message}`, { cause: err })
    }
  }
}
