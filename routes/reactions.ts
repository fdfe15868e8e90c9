// Reacting to a message: any identified user, once per emoji (a set: PUT twice is one reaction).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { ErrorResponse } from '../schemas/http.ts'
import { ReactionParams } from '../schemas/reaction.ts'
import type { ReactionEvent } from '../schemas/events.ts'

const reactions: FastifyPluginAsyncTypebox = async (app) => {
  const errors = { 400: ErrorResponse, 401: ErrorResponse, 403: ErrorResponse, 404: ErrorResponse, 503: ErrorResponse }

  for (const [method, type] of [['PUT', 'reaction.added'], ['DELETE', 'reaction.removed']] as const) {
    app.route({
      method,
      url: '/api/messages/:id/reactions/:emoji',
      schema: {
        tags: ['reactions'],
        summary: method === 'PUT' ? 'React to a message with an emoji (idempotent)' : 'Take back your reaction (idempotent)',
        params: ReactionParams,
        response: { 204: { type: 'null', description: 'accepted by the log' }, ...errors }
      },
      async handler (request, reply) {
        const user = request.requireUser(method === 'PUT' ? 'reacting' : 'removing a reaction')
        const { id, emoji } = request.params
        const message = await app.findMessage(user, id)
        // readable but not writable (a personal channel): a 403 reveals nothing the caller cannot read
        await app.channels.assertAccess(user, message.channelId, 'write')
        // Always produced, even when it changes nothing: the store applies it as a set operation,
        // and skipping on a stale read could lose a quick PUT-then-DELETE.
        const event: ReactionEvent = { v: 1, type, channelId: message.channelId, at: new Date().toISOString(), data: { messageId: id, emoji, userId: user.id } }
        await app.events.produce('reactions', message.channelId, event)
        return reply.code(204).send()
      }
    })
  }
}

export default reactions
