// Finding a message for a route that acts on it (edit, delete, react): the one lookup, with the
// access rule and read-your-writes in it.
import fp from 'fastify-plugin'
import type { Message } from '../schemas/message.ts'
import type { User } from './auth.ts'

/** A message as the routes that act on it need it: its text is the store's, or the request's. */
export type MessageHead = Omit<Message, 'content'> & { content?: string }

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * The message as its author last left it, or a 404. A message in a channel `user` may not read
     * is answered exactly like an unknown id: a caller learns neither that the id exists nor which
     * private channel holds it. Read-your-writes: a message posted or deleted moments ago, on any
     * instance, is known from plugins/recent-messages before the store has caught up (the store's
     * copy, with its reactions and edits, wins once it has one; a recorded deletion wins over both).
     */
    findMessage (user: User | null, id: string): Promise<MessageHead>
  }
}

export default fp(async function messageLookup (app) {
  app.decorate('findMessage', async (user: User | null, id: string): Promise<MessageHead> => {
    const [recent, stored] = await Promise.all([app.recentMessages.get(id), app.store.get(id)])
    const message = recent?.state === 'deleted' ? null : stored ?? (recent?.state === 'posted' ? recent.message : null)
    if (!message || await app.channels.refusal(user, message.channelId, 'read')) throw app.httpErrors.notFound(`no message ${id} (unknown or deleted)`)
    return message
  })
}, { name: 'message-lookup', dependencies: ['recent-messages', 'store', 'channels'] })
