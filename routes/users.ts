// User status across the cluster: online while at least one identified WebSocket connection of the
// user is open on any instance (docs/connections.md). Watching changes: subscribe to `status:<id>`.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { ErrorResponse } from '../schemas/http.ts'
import { UserId } from '../schemas/message.ts'
import { UserStatus } from '../schemas/connections.ts'

const ID = '[A-Za-z0-9_.:-]{1,120}'
/** Users one status request may name (a contact list page). */
export const MAX_STATUS_USERS = 100

const users: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/api/users/:userId/status', {
    schema: {
      tags: ['presence'],
      summary: 'Whether the user has a live WebSocket connection on any instance (online / offline), with its version',
      params: Type.Object({ userId: UserId }),
      response: { 200: UserStatus, 400: ErrorResponse, 401: ErrorResponse, 503: ErrorResponse }
    }
  }, async (request) => {
    const [status] = await app.connections.statuses([request.params.userId])
    return status
  })

  app.get('/api/users/status', {
    schema: {
      tags: ['presence'],
      summary: `The status of up to ${MAX_STATUS_USERS} users at once (a contact list), in the order asked`,
      querystring: Type.Object({ ids: Type.String({ pattern: `^${ID}(,${ID}){0,${MAX_STATUS_USERS - 1}}$`, description: `comma-separated user ids (letters, digits and _ . : -), at most ${MAX_STATUS_USERS}` }) }),
      response: { 200: Type.Object({ users: Type.Array(UserStatus) }), 400: ErrorResponse, 401: ErrorResponse, 503: ErrorResponse }
    }
  }, async (request) => {
    // the schema's pattern checked the ids and their number
    const ids = [...new Set(request.query.ids.split(','))]
    return { users: await app.connections.statuses(ids) }
  })
}

export default users
