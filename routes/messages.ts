import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { ErrorResponse, PostMessageBody } from '../schemas/http.ts'
import { Message } from '../schemas/message.ts'
import type { User } from '../plugins/auth.ts'

const messages: FastifyPluginAsyncTypebox = async (app) => {
  const { config } = app

  /**
   * A reply's parent: a message the sender may read (404 otherwise, as for an unknown id), of the
   * same channel, and not itself a reply (threads are one level). Read-your-writes: a parent posted
   * a moment ago is found before the store has it.
   */
  async function assertParent (user: User, channelId: string, parentId: string) {
    const parent = await app.findMessage(user, parentId)
    if (parent.channelId !== channelId) throw app.httpErrors.badRequest(`parentId ${parentId} is a message of another channel: a reply goes in its parent's channel`)
    if (parent.parentId !== undefined) throw app.httpErrors.badRequest(`parentId ${parentId} is itself a reply (threads are one level): reply to its parent ${parent.parentId}`)
  }

  app.post('/api/messages', {
    schema: {
      tags: ['messages'],
      summary: 'Post a message, or a reply in a thread (parentId): accepted once the event log has it',
      body: PostMessageBody(config.MESSAGE_MAX_LENGTH),
      response: { 201: Message, 400: ErrorResponse, 401: ErrorResponse, 403: ErrorResponse, 404: ErrorResponse, 409: ErrorResponse, 413: ErrorResponse, 422: ErrorResponse, 429: ErrorResponse, 503: ErrorResponse }
    }
  }, async (request, reply) => {
    const { channelId, content, parentId, alsoInChannel } = request.body
    // With auth on request.user is always set (anonymous /api calls are 401): the body cannot override it.
    const senderId = request.user?.id ?? request.body.senderId ?? 'anonymous'
    await app.channels.assertAccess({ id: senderId }, channelId, 'write')
    if (parentId !== undefined) await assertParent(request.user ?? { id: senderId, name: senderId }, channelId, parentId)
    await app.moderation.check({ channelId, senderId, content })
    const draft = {
      channelId,
      senderId,
      senderName: request.user?.name ?? request.body.senderName ?? senderId,
      content,
      // a message that is not a reply is in its channel's history anyway: alsoInChannel says nothing of it
      ...(parentId !== undefined ? { parentId, ...(alsoInChannel === true ? { alsoInChannel } : {}) } : {})
    }
    const { nonce } = request.body
    if (nonce === undefined) return reply.code(201).send(await app.posting.post(draft))
    // A retry with the same nonce gets the first message (same status and body), never a second one.
    const { result, replayed } = await app.posting.once(
      { scope: `user:${senderId}`, key: nonce, name: 'nonce', fingerprint: JSON.stringify(parentId === undefined ? [channelId, content] : [channelId, content, parentId, alsoInChannel === true]), reused: 'was already used for a different message' },
      () => app.posting.post(draft),
      (message) => [message])
    if (replayed) reply.header('idempotent-replayed', 'true')
    return reply.code(201).send(result)
  })
}

export default messages
