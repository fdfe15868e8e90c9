import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { ChannelParams, ErrorResponse, HistoryPage, HistoryQuery } from '../schemas/http.ts'
import type { HistoryMessage } from '../schemas/message.ts'

const history: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/api/channels/:channelId/messages', {
    schema: {
      tags: ['messages'],
      summary: "A page of a channel's history, newest first; cache-first (header x-cache: hit|miss)",
      params: ChannelParams,
      querystring: HistoryQuery,
      response: { 200: HistoryPage, 400: ErrorResponse, 401: ErrorResponse, 403: ErrorResponse, 503: ErrorResponse }
    },
    // Query strings are converted before validation, and `limit=true` would become 1: the raw value
    // must be digits, as the document says (an integer).
    preValidation: async (request) => {
      const { limit } = request.query as Record<string, unknown>
      if (typeof limit === 'string' && !/^[0-9]+$/.test(limit)) throw app.httpErrors.badRequest(`querystring/limit must be an integer from 1 to 100 (got ${JSON.stringify(limit.slice(0, 20))})`)
    },
    preHandler: app.channels.guard('read')
  }, async (request, reply) => {
    const { channelId } = request.params
    const { before } = request.query
    const limit = request.query.limit ?? 50
    let page: HistoryMessage[] | null = null
    try {
      page = await app.cache.page(channelId, { before, limit })
    } catch (err) {
      request.log.warn({ err }, 'cache unavailable; reading history from the store')
    }
    reply.header('x-cache', page ? 'hit' : 'miss')
    if (!page) {
      page = await app.store.page(channelId, { before, limit })
      // Only the newest page is cached: the cache always holds a contiguous newest range. An empty
      // page is not: reading ids nobody uses must not allocate cache state per id (the channel's
      // first message starts its entry, and the first read after it warms the rest).
      if (before === undefined && page.length > 0) {
        app.cache.fill(channelId, page, page.length < limit).catch((err) => request.log.warn({ err }, 'could not warm the cache'))
      }
    }
    return { messages: page, nextBefore: page.length === limit ? page[page.length - 1].id : null }
  })
}

export default history
