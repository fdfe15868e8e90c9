// A thread's replies, oldest first. The parent decides access: a parent in a channel the caller may
// not read answers exactly like an unknown id. A deleted parent with replies still has its thread.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { ErrorResponse, RepliesPage, RepliesQuery } from '../schemas/http.ts'
import { MessageParams } from '../schemas/message-change.ts'
import { rawLimitIsInteger } from './page-limit.ts'

const threads: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/api/messages/:id/replies', {
    schema: {
      tags: ['messages'],
      summary: "A page of a thread's replies, oldest first",
      params: MessageParams,
      querystring: RepliesQuery,
      response: { 200: RepliesPage, 400: ErrorResponse, 401: ErrorResponse, 404: ErrorResponse, 503: ErrorResponse }
    },
    preValidation: rawLimitIsInteger
  }, async (request) => {
    const { id } = request.params
    const user = request.user ?? null
    const notFound = () => app.httpErrors.notFound(`no message ${id} (unknown or deleted)`)
    try {
      await app.findMessage(user, id) // access, and read-your-writes: a parent just posted has no replies yet, not a 404
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode !== 404) throw err
      const placeholder = await app.store.deletedParent(id)
      if (!placeholder || await app.channels.refusal(user, placeholder.channelId, 'read')) throw notFound()
    }
    const limit = request.query.limit ?? 50
    const replies = await app.store.replies(id, { after: request.query.after, limit })
    return { replies, nextAfter: replies.length === limit ? replies[replies.length - 1].id : null }
  })
}

export default threads
