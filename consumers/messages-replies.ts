// Tells a thread's users of a new reply: one `notification` of kind `reply` on `notifications`
// (key userId) for the parent's author and each of the thread's participants, never the replier,
// nor a user the reply mentions (who gets the mention). At least once: a redelivered reply
// notifies again with the same notification id, which clients use to drop the duplicate.
import { type NotificationEvent } from '../schemas/events.ts'
import { topics } from '../schemas/topics.ts'
import { defineTopicHandler } from '../plugins/topic-handlers.ts'
import { TransientError } from '../plugins/external/errors.ts'
import { PERSONAL_PREFIX } from '../plugins/channels/index.ts'
import { mentionedUsers } from './messages-mentions.ts'

const EXCERPT_LENGTH = 140

export default defineTopicHandler({
  name: 'messages-replies',
  topic: topics.messages,
  mode: 'shared',
  async handle (event, { app }) {
    if (event.type !== 'message.created' || event.data.parentId === undefined) return
    const reply = event.data
    const parentId = reply.parentId!
    // Another consumer group stores the parent: a parent posted lately may not be there yet.
    const parent = await app.store.get(parentId) ?? await app.store.deletedParent(parentId)
    if (!parent) {
      if ((await app.recentMessages.get(parentId))?.state === 'posted') throw new TransientError(`message ${parentId} is posted but not stored yet`)
      return // deleted without replies before this one was counted: nobody to tell
    }
    const mentioned = new Set(mentionedUsers(reply.content))
    const users = new Set([...('senderId' in parent && parent.senderId ? [parent.senderId] : []), ...parent.thread?.participants ?? []])
    const told = [...users].filter((userId) => userId !== reply.senderId && !mentioned.has(userId))
    if (told.length === 0) return
    // The excerpt must not reach a user who may no longer read the channel (as in messages-mentions.ts).
    const personal = reply.channelId.startsWith(PERSONAL_PREFIX)
    const channel = personal ? null : await app.channels.store.get(reply.channelId)
    const mayRead = (userId: string) => personal
      ? reply.channelId === PERSONAL_PREFIX + userId
      : !channel?.private || channel.members.includes(userId)
    const excerpt = [...reply.content.trim()].slice(0, EXCERPT_LENGTH).join('')
    for (const userId of told) {
      if (!mayRead(userId)) continue
      const notification: NotificationEvent = {
        v: 1,
        type: 'notification',
        userId,
        at: new Date().toISOString(),
        data: { id: `${reply.id}:${userId}`, kind: 'reply', messageId: reply.id, parentId, channelId: reply.channelId, from: reply.senderId, fromName: reply.senderName, excerpt, createdAt: reply.createdAt }
      }
      try {
        await app.events.produce('notifications', userId, notification)
      } catch (err) {
        throw new TransientError(`could not produce the reply notification of ${userId}: ${(err as Error).message}`, { cause: err })
      }
    }
  }
})
