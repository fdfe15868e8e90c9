// User status across the cluster: online while at least one identified WebSocket connection of the
// user is open on any instance (docs/connections.md). Watching changes: subscribe to `status:<id>`.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { ErrorResponse } from '../schemas/http.ts'
import { USER_ID, UserId } from '../schemas/message.ts'
import { UserStatus } from '../schemas/connections.ts'

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
      querystring: Type.Object({ ids: Type.String({ minLength: 1, description: `comma-separated user ids, at most ${MAX_STATUS_USERS}` }) }),
      response: { 200: Type.Object({ users: Type.Array(UserStatus) }), 400: ErrorResponse, 401: ErrorResponse, 503: ErrorResponse }
    }
  }, async (request) => {
    const ids = [...new Set(request.query.ids.split(',').map((id) => id.trim()).filter((id) => id !== ''))]
    if (ids.length > MAX_STATUS_USERS) throw app.httpErrors.badRequest(`querystring/ids names ${ids.length} users: at most ${MAX_STATUS_USERS}`)
    const bad = ids.find((id) => !USER_ID.test(id))
    if (bad !== undefined || ids.length === 0) throw app.httpErrors.badRequest(`querystring/ids must be user ids (1-120 letters, digits or _ . : -)${bad === undefined ? '' : `; got ${JSON.stringify(bad.slice(0, 130))}`}`)
    return { users: await app.connections.statuses(ids) }
  })
}

export default users
