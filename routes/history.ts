import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { ChannelParams, ErrorResponse, HistoryPage, HistoryQuery } from '../schemas/http.ts'
import type { HistoryMessage } from '../schemas/message.ts'
import { createSingleFlight } from '../plugins/single-flight.ts'
import { rawLimitIsInteger } from './page-limit.ts'

const history: FastifyPluginAsyncTypebox = async (app) => {
  const pages = createSingleFlight<{ page: HistoryMessage[], hit: boolean }>()
  /** The page from the cache, or on a miss (or a cache outage) from the store, warming the cache. */
  async function readPage (channelId: string, before: string | undefined, limit: number) {
    let page: HistoryMessage[] | null = null
    try {
      page = await app.cache.page(channelId, { before, limit })
    } catch (err) {
      app.log.warn({ err, channelId }, 'cache unavailable; reading history from the store')
    }
    if (page) return { page, hit: true }
    page = await app.store.page(channelId, { before, limit })
    // Only the newest page is cached: the cache always holds a contiguous newest range. An empty
    // page is not: reading ids nobody uses must not allocate cache state per id (the channel's
    // first message starts its entry, and the first read after it warms the rest).
    if (before === undefined && page.length > 0) {
      app.cache.fill(channelId, page, page.length < limit).catch((err) => app.log.warn({ err, channelId }, 'could not warm the cache'))
    }
    return { page, hit: false }
  }

  app.get('/api/channels/:channelId/messages', {
    schema: {
      tags: ['messages'],
      summary: "A page of a channel's history, newest first; cache-first (header x-cache: hit|miss)",
      params: ChannelParams,
      querystring: HistoryQuery,
      response: { 200: HistoryPage, 400: ErrorResponse, 401: ErrorResponse, 403: ErrorResponse, 503: ErrorResponse }
    },
    preValidation: rawLimitIsInteger,
    preHandler: app.channels.guard('read')
  }, async (request, reply) => {
    const { channelId } = request.params
    const { before } = request.query
    const limit = request.query.limit ?? 50
    // Readers of the same page at the same moment (a reconnect storm's reloads) share one read.
    const { page, hit } = await pages.run(`${channelId}\0${before ?? ''}\0${limit}`, () => readPage(channelId, before, limit))
    reply.header('x-cache', hit ? 'hit' : 'miss')
    return { messages: page, nextBefore: page.length === limit ? page[page.length - 1].id : null }
  })
}

export default history
