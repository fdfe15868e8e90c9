// The admin API (ADMIN_API_KEYS, X-API-Key): a user's connections across the cluster, and closing
// them all, everywhere, through the log (`user-control`), with close code 4403.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { ErrorResponse } from '../schemas/http.ts'
import { UserId } from '../schemas/message.ts'
import { CloseCodes } from '../fanout/protocol.ts'
import type { UserControlEvent } from '../schemas/connections.ts'

const Params = Type.Object({ userId: UserId })
const Headers = Type.Object({ 'x-api-key': Type.Optional(Type.String({ description: 'one of ADMIN_API_KEYS (required; 401 without)' })) })
const LiveConnection = Type.Object({
  connectionId: Type.String(),
  userId: Type.String(),
  instanceId: Type.String({ description: 'the instance holding the socket' }),
  transport: Type.Union([Type.Literal('uws'), Type.Literal('fastify')]),
  connectedAt: Type.String({ format: 'date-time' })
})

const admin: FastifyPluginAsyncTypebox = async (app) => {
  const guard = app.apiKeys.guard('admin')

  app.get('/api/admin/users/:userId/connections', {
    onRequest: guard,
    schema: { tags: ['admin'], summary: 'The user\'s open WebSocket connections on every instance, oldest first', headers: Headers, params: Params, response: { 200: Type.Object({ connections: Type.Array(LiveConnection) }), 400: ErrorResponse, 401: ErrorResponse, 503: ErrorResponse } }
  }, async (request) => ({ connections: await app.connections.list(request.params.userId) }))

  app.post('/api/admin/users/:userId/disconnect', {
    onRequest: guard,
    schema: {
      tags: ['admin'],
      summary: `Close every WebSocket connection of the user on every instance (close code ${CloseCodes.ADMIN_DISCONNECT}); accepted once the log has the command`,
      headers: Headers,
      params: Params,
      response: { 202: { type: 'null', description: 'accepted by the log; every instance closes its sockets of the user' }, 400: ErrorResponse, 401: ErrorResponse, 503: ErrorResponse }
    }
  }, async (request, reply) => {
    const { userId } = request.params
    const event: UserControlEvent = { v: 1, type: 'user.disconnect', userId, at: new Date().toISOString(), data: { code: CloseCodes.ADMIN_DISCONNECT, reason: 'disconnected by an administrator' } }
    await app.events.produce('user-control', userId, event)
    return reply.code(202).send()
  })
}

export default admin
