// Where a message is created, for users' posts (routes/messages.ts) and services' (routes/server.ts):
// a new id, the `message.created` event into the log, the record that gives its author
// read-your-writes (plugins/recent-messages), and the idempotent replay of a nonce or
// Idempotency-Key, which answers 409 when a message it would repeat has been deleted since.
import fp from 'fastify-plugin'
import { ObjectId } from 'mongodb'
import type { Message } from '../schemas/message.ts'
import type { MessageEvent } from '../schemas/events.ts'

/** What the caller says of a new message; the id, time and position are the log's. */
export interface Draft { channelId: string, senderId: string, senderName: string, content: string, parentId?: string, alsoInChannel?: true }

/** A request that may be repeated: the same scope and key within the nonce window run once. */
export interface Repeatable {
  /** Whose keys these are (`user:<id>`, `api-key:<id>`): one caller's keys never meet another's. */
  scope: string
  key: string
  /** What the client calls the key, for the answers: `nonce`, `Idempotency-Key`. */
  name: string
  /** What the request asked for: a repeat that asks for something else is a 409. */
  fingerprint: string
  /** The 409's words after the key: `was already used for another request`. */
  reused: string
}

export interface Posting {
  /** Produces a new message; resolves with it as accepted (with its position) once the log has it. */
  post (draft: Draft): Promise<Message>
  /**
   * Runs `work` once per scope and key; a repeat resolves with the first result (`replayed`), or is
   * a 409 when one of the messages it created (`created`) was deleted since.
   */
  once<T> (request: Repeatable, work: () => Promise<T>, created: (result: T) => Message[]): Promise<{ result: T, replayed: boolean }>
}

declare module 'fastify' {
  interface FastifyInstance { posting: Posting }
}

export default fp(async function posting (app) {
  async function post (draft: Draft): Promise<Message> {
    const message: Message = { id: new ObjectId().toHexString(), ...draft, createdAt: new Date().toISOString() }
    const event: MessageEvent = { v: 1, type: 'message.created', channelId: draft.channelId, at: message.createdAt, data: message }
    const accepted = { ...message, position: await app.events.produce('messages', draft.channelId, event) }
    // before the 201: the author's edit, on any instance, must not depend on the store's pace
    await app.recentMessages.posted(accepted)
    return accepted
  }

  async function once<T> (request: Repeatable, work: () => Promise<T>, created: (result: T) => Message[]) {
    const { value, replayed } = await app.nonces.once(request.scope, request.key, async () => JSON.stringify({ fingerprint: request.fingerprint, result: await work() }))
    const first = JSON.parse(value) as { fingerprint: string, result: T }
    const named = `${request.name} ${JSON.stringify(request.key)}`
    if (replayed && first.fingerprint !== request.fingerprint) throw app.httpErrors.conflict(`${named} ${request.reused}`)
    if (replayed) {
      // The first answer would name a message that is gone: a client acting on it would meet 404s. A
      // 409 (not 410): the request is valid, it conflicts with what became of its first answer.
      const recent = await Promise.all(created(first.result).map(async ({ id }) => ({ id, recent: await app.recentMessages.get(id) })))
      const deleted = recent.filter(({ recent }) => recent?.state === 'deleted').map(({ id }) => id)
      if (deleted.length > 0) throw app.httpErrors.conflict(`${named} was answered with message ${deleted.join(', ')}, deleted since; use a new ${request.name} to post again`)
    }
    return { result: first.result, replayed }
  }

  app.decorate('posting', { post, once } satisfies Posting)
}, { name: 'posting', dependencies: ['events', 'nonces', 'recent-messages'] })
