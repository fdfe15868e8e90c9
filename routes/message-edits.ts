// Editing and deleting a message: by its author only, through the log like every write.
import type { FastifyRequest } from 'fastify'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { ErrorResponse } from '../schemas/http.ts'
import { Message } from '../schemas/message.ts'
import { EditMessageBody, MessageParams } from '../schemas/message-change.ts'
import type { MessageEvent } from '../schemas/events.ts'
import type { MessageHead } from '../plugins/message-lookup.ts'

const messageEdits: FastifyPluginAsyncTypebox = async (app) => {
  const { config } = app
  const errors = { 400: ErrorResponse, 401: ErrorResponse, 403: ErrorResponse, 404: ErrorResponse, 503: ErrorResponse }

  async function ownMessage (request: FastifyRequest, id: string, action: string): Promise<MessageHead> {
    const user = request.requireUser(action)
    const message = await app.findMessage(user, id)
    if (message.senderId !== user.id) throw app.httpErrors.forbidden(`only the author of message ${id} may ${action.split(' ')[0]} it`)
    return message
  }

  app.patch('/api/messages/:id', {
    schema: {
      tags: ['messages'],
      summary: 'Edit a message (its author only); the new text reaches history and subscribers through the log',
      params: MessageParams,
      body: EditMessageBody(config.MESSAGE_MAX_LENGTH),
      response: { 200: Message, ...errors, 422: ErrorResponse }
    }
  }, async (request) => {
    const { content } = request.body
    const message = await ownMessage(request, request.params.id, 'edit a message')
    await app.channels.assertAccess(request.user, message.channelId, 'write')
    await app.moderation.check({ channelId: message.channelId, senderId: message.senderId, content, id: message.id })
    const editedAt = new Date().toISOString()
    const event: MessageEvent = { v: 1, type: 'message.updated', channelId: message.channelId, at: editedAt, data: { id: message.id, channelId: message.channelId, content, editedAt } }
    await app.events.produce('messages', message.channelId, event)
    return { ...message, content, editedAt }
  })

  app.delete('/api/messages/:id', {
    schema: {
      tags: ['messages'],
      summary: 'Delete a message (its author only); it leaves history and subscribers are told',
      params: MessageParams,
      response: { 204: { type: 'null', description: 'deleted' }, ...errors }
    }
  }, async (request, reply) => {
    const message = await ownMessage(request, request.params.id, 'delete a message')
    const event: MessageEvent = { v: 1, type: 'message.deleted', channelId: message.channelId, at: new Date().toISOString(), data: { id: message.id, channelId: message.channelId } }
    await app.events.produce('messages', message.channelId, event)
    // before the 204: the author's next request, on any instance, finds it gone
    await app.recentMessages.deleted(message.id)
    return reply.code(204).send()
  })
}

export default messageEdits
