// Who is in a channel right now, and who is typing. Both ephemeral: presence lives in the presence
// store (TTL), typing is only an event on `user-activity`; neither is stored or replayed.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { ChannelParams, ErrorResponse } from '../schemas/http.ts'
import { PresenceResponse } from '../schemas/user-activity.ts'
import type { UserActivityEvent } from '../schemas/events.ts'

const userActivity: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/api/channels/:channelId/presence', {
    schema: {
      tags: ['presence'],
      summary: 'Users with a live WebSocket connection subscribed to the channel (across instances)',
      params: ChannelParams,
      response: { 200: PresenceResponse, 400: ErrorResponse, 401: ErrorResponse, 403: ErrorResponse, 503: ErrorResponse }
    },
    preHandler: app.channels.guard('read')
  }, async (request) => {
    return { users: await app.presence.store.list(request.params.channelId) }
  })

  app.post('/api/channels/:channelId/typing', {
    schema: {
      tags: ['presence'],
      summary: "Tell the channel's subscribers that you are typing (a `typing` event; never stored)",
      params: ChannelParams,
      response: { 202: { type: 'null', description: 'accepted by the log' }, 400: ErrorResponse, 401: ErrorResponse, 403: ErrorResponse, 429: ErrorResponse, 503: ErrorResponse }
    },
    preHandler: app.channels.guard('write')
  }, async (request, reply) => {
    const user = request.requireUser('typing')
    const { channelId } = request.params
    const event: UserActivityEvent = { v: 1, type: 'typing', channelId, at: new Date().toISOString(), data: { userId: user.id, name: user.name.slice(0, 64) } }
    await app.events.produce('user-activity', channelId, event)
    return reply.code(202).send()
  })
}

export default userActivity
