// Read-your-writes for the author: every accepted post and deletion is recorded here (Redis when
// REDIS_URL is set, shared by every instance; in process otherwise) before its answer, and the routes
// that act on one message read it beside the store. Best effort: a record that cannot be written is
// logged, and the write it follows stands (the log has it); the store catches up within milliseconds.
import fp from 'fastify-plugin'
import type { Message } from '../../schemas/message.ts'
import type { RecentMessage, RecentMessageStore } from './recent-messages.ts'
import { createEmbeddedRecentMessages } from './embedded.ts'
import { createRedisRecentMessages } from './redis.ts'

export type * from './recent-messages.ts'

/**
 * How long a post or a deletion is remembered: the window in which an author's next request never
 * depends on the store having caught up; as long as a nonce, so a nonce replay knows of a deletion.
 */
export const RECENT_MESSAGE_TTL_SECONDS = 600

export interface RecentMessages {
  readonly store: RecentMessageStore
  /** Records a message the log accepted (its text is not kept). */
  posted (message: Message): Promise<void>
  /** Records that a message's deletion was accepted. */
  deleted (id: string): Promise<void>
  /** What was recorded lately; undefined when nothing was, or when the store cannot be read. */
  get (id: string): Promise<RecentMessage | undefined>
}

declare module 'fastify' {
  interface FastifyInstance { recentMessages: RecentMessages }
}

export default fp<{ store?: RecentMessageStore }>(async function recentMessages (app, opts) {
  const store = opts.store ?? (app.redis ? createRedisRecentMessages(app.redis) : createEmbeddedRecentMessages())
  const warn = (what: string) => (err: Error) => app.log.warn({ err }, `could not record a ${what}: until the store has it, its author's next request may not see it`)

  app.decorate('recentMessages', {
    store,
    async posted ({ content, editedAt, reactions, ...message }) {
      await store.posted(message, RECENT_MESSAGE_TTL_SECONDS).catch(warn('post'))
    },
    async deleted (id) {
      await store.deleted(id, RECENT_MESSAGE_TTL_SECONDS).catch(warn('deletion'))
    },
    async get (id) {
      return store.get(id).catch((err: Error) => {
        app.log.warn({ err }, 'could not read recent messages; answering from the store alone')
        return undefined
      })
    }
  } satisfies RecentMessages)
}, { name: 'recent-messages', dependencies: ['redis'] })
