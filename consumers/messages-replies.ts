// Tells a thread's users of a new reply: one `notification` of kind `reply` on `notifications`
// (key userId) for the parent's author and each of the thread's participants, never the replier,
// nor a user the reply mentions (who gets the mention). At least once: a redelivered reply
// notifies again with the same notification id, which clients use to drop the duplicate.
import { topics } from '../schemas/topics.ts'
import { defineTopicHandler } from '../plugins/topic-handlers.ts'
import { TransientError } from '../plugins/external/errors.ts'
import { notifyReaders } from '../plugins/notifying.ts'
import { mentionedUsers } from './messages-mentions.ts'

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
    await notifyReaders(app, reply, told, { kind: 'reply', parentId })
  }
})
