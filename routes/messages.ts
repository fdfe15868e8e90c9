import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { ErrorResponse, PostMessageBody } from '../schemas/http.ts'
import { Message } from '../schemas/message.ts'

const messages: FastifyPluginAsyncTypebox = async (app) => {
  const { config } = app

  app.post('/api/messages', {
    schema: {
      tags: ['messages'],
      summary: 'Post a message: accepted once the event log has it',
      body: PostMessageBody(config.MESSAGE_MAX_LENGTH),
      response: { 201: Message, 400: ErrorResponse, 401: ErrorResponse, 403: ErrorResponse, 409: ErrorResponse, 413: ErrorResponse, 422: ErrorResponse, 429: ErrorResponse, 503: ErrorResponse }
    }
  }, async (request, reply) => {
    const { channelId, content } = request.body
    // With auth on request.user is always set (anonymous /api calls are 401): the body cannot override it.
    const senderId = request.user?.id ?? request.body.senderId ?? 'anonymous'
    await app.channels.assertAccess({ id: senderId }, channelId, 'write')
    await app.moderation.check({ channelId, senderId, content })
    const draft = { channelId, senderId, senderName: request.user?.name ?? request.body.senderName ?? senderId, content }
    const { nonce } = request.body
    if (nonce === undefined) return reply.code(201).send(await app.posting.post(draft))
    // A retry with the same nonce gets the first message (same status and body), never a second one.
    const { result, replayed } = await app.posting.once(
      { scope: `user:${senderId}`, key: nonce, name: 'nonce', fingerprint: JSON.stringify([channelId, content]), reused: 'was already used for a different message' },
      () => app.posting.post(draft),
      (message) => [message])
    if (replayed) reply.header('idempotent-replayed', 'true')
    return reply.code(201).send(result)
  })
}

export default messages
