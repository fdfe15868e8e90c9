// Test helper: records what reaches the `connections` and `user-status` topics, through a topic
// handler of the app (the same pipeline a consumer outside switchboard reads through Kafka).
import { topics } from '../schemas/topics.ts'
import { defineTopicHandler, type TopicHandler } from '../plugins/topic-handlers.ts'
import type { ConnectionEvent, UserStatusEvent } from '../schemas/connections.ts'

type Recorded = ConnectionEvent | UserStatusEvent

export function topicLog () {
  const seen: Recorded[] = []
  const waiters = new Set<{ match: (e: Recorded) => boolean, resolve: (e: Recorded) => void }>()
  const push = (e: Recorded) => {
    seen.push(e)
    for (const w of waiters) if (w.match(e)) { waiters.delete(w); w.resolve(e) }
  }
  const handlers: TopicHandler[] = [
    defineTopicHandler({ name: 'test-connections-log', topic: topics.connections, mode: 'broadcast', async handle (event) { push(event) } }),
    defineTopicHandler({ name: 'test-user-status-log', topic: topics.userStatus, mode: 'broadcast', async handle (event) { push(event) } })
  ]
  return {
    handlers,
    seen,
    /** Resolves with the first event (already seen or still to come) that matches. */
    next<E extends Recorded = Recorded> (match: ((e: Recorded) => e is E) | ((e: Recorded) => boolean)): Promise<E> {
      const earlier = seen.find(match)
      if (earlier) return Promise.resolve(earlier as E)
      return new Promise((resolve) => { waiters.add({ match, resolve: resolve as (e: Recorded) => void }) })
    },
    of (connectionId: string, type?: string) {
      return seen.filter((e): e is ConnectionEvent => 'connectionId' in e && e.connectionId === connectionId && (type === undefined || e.type === type))
    }
  }
}

export const isConn = (connectionId: string, type: string) => (e: Recorded) => 'connectionId' in e && e.connectionId === connectionId && e.type === type
export const isStatus = (userId: string, status: 'online' | 'offline') => (e: Recorded): e is UserStatusEvent => e.type === 'user.status' && e.userId === userId && e.data.status === status
