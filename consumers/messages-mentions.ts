// Tells each user mentioned as `@<userId>` in a new message: one `notification` event per mentioned
// user on the `notifications` topic (key userId). At least once: a redelivered message notifies
// again with the same notification id, which clients use to drop the duplicate.
import { topics } from '../schemas/topics.ts'
import { defineTopicHandler } from '../plugins/topic-handlers.ts'
import { notifyReaders } from '../plugins/notifying.ts'

/** At most this many users are notified per message (a message is not a mailing list). */
export const MAX_MENTIONS = 20
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
    await notifyReaders(app, message, mentioned, { kind: 'mention' })
  }
})
