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
      body: PostMessageBody,
      response: { 201: Message, 400: ErrorResponse, 413: ErrorResponse, 503: ErrorResponse }
    }
  }, async (request, reply) => {
    const { channelId, content } = request.body
    if (content.trim() === '') throw app.httpErrors.badRequest('body/content must not be blank')
    if (content.length > config.MESSAGE_MAX_LENGTH) throw app.httpErrors.badRequest(`body/content must be at most ${config.MESSAGE_MAX_LENGTH} characters (got ${content.length})`)
    const senderId = request.user?.id ?? request.body.senderId ?? 'anonymous'
    const message: Message = {
      id: new ObjectId().toHexString(),
      channelId,
      senderId,
      senderName: request.user?.name ?? request.body.senderName ?? senderId,
      content,
      createdAt: new Date().toISOString()
    }
    const event: MessageEvent = { v: 1, type: 'message.created', channelId, at: message.createdAt, data: message }
    const position = await app.events.produce('messages', channelId, event)
    return reply.code(201).send({ ...message, position })
  })
}

export default messages
