import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { ObjectId } from 'mongodb'
import { ErrorResponse, PostMessageBody } from '../schemas/http.ts'
import { Message } from '../schemas/message.ts'
import type { MessageEvent } from '../schemas/events.ts'

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
    const message: Message = {
      id: new ObjectId().toHexString(),
      channelId,
      senderId,
      senderName: request.user?.name ?? request.body.senderName ?? senderId,
      content,
      createdAt: new Date().toISOString()
    }
    const event: MessageEvent = { v: 1, type: 'message.created', channelId, at: message.createdAt, data: message }
    const accept = async (): Promise<Message> => ({ ...message, position: await app.events.produce('messages', channelId, event) })
    const { nonce } = request.body
    if (nonce === undefined) return reply.code(201).send(await accept())
    // A retry with the same nonce gets the first message (same status and body), never a second one.
    const { value, replayed } = await app.nonces.once(senderId, nonce, async () => JSON.stringify(await accept()))
    const first = JSON.parse(value) as Message
    if (replayed && (first.channelId !== channelId || first.content !== content)) {
      throw app.httpErrors.conflict(`nonce ${JSON.stringify(nonce)} was already used for a different message`)
    }
    if (replayed) reply.header('idempotent-replayed', 'true')
    return reply.code(201).send(first)
  })
}

export default messages
