// Read markers, unread and mention counts, read receipts and the receipts setting (docs/chat-state.md).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { ErrorResponse } from '../schemas/http.ts'
import { MessageParams } from '../schemas/message-change.ts'
import { ReadBody, ReadParams, ReceiptsResponse, UnreadResponse, UserSettings, type ReadMarkerEvent } from '../schemas/read-state.ts'

const readState: FastifyPluginAsyncTypebox = async (app) => {
  const { store } = app.readState
  const errors = { 400: ErrorResponse, 401: ErrorResponse, 403: ErrorResponse, 404: ErrorResponse, 503: ErrorResponse }

  app.put('/api/channels/:channelId/read', {
    schema: {
      tags: ['read state'],
      summary: 'Move your read marker to a message (forward only; `unread: true` moves it to just before the message)',
      params: ReadParams,
      body: ReadBody,
      response: { 204: { type: 'null', description: 'in the log: durable; once stored, your connections get read.updated' }, ...errors }
    }
  }, async (request, reply) => {
    const user = request.requireUser('marking a channel read')
    const { channelId } = request.params
    const { messageId, unread = false } = request.body
    await app.channels.assertAccess(user, channelId, 'read')
    // read-your-writes: a message posted a moment ago (on any instance) is found before the store has it
    const message = await app.findMessage(user, messageId)
    if (message.channelId !== channelId) throw app.httpErrors.notFound(`no message ${messageId} in channel ${channelId}`)
    if (!message.position) throw app.httpErrors.serviceUnavailable(`message ${messageId} has no stream position yet: try again`)
    // Always produced, even when it would not move the marker: the store folds markers in log
    // order, and skipping on a stale read could lose a mark as unread followed by a read.
    const event: ReadMarkerEvent = { v: 1, type: 'read.marked', userId: user.id, at: new Date().toISOString(), data: { channelId, messageId, position: message.position, unread } }
    await app.events.produce('read-markers', user.id, event)
    return reply.code(204).send()
  })

  app.get('/api/users/me/unread', {
    schema: {
      tags: ['read state'],
      summary: 'Unread and mention counts of your channels (capped at UNREAD_MAX)',
      response: { 200: UnreadResponse, 401: ErrorResponse, 503: ErrorResponse }
    }
  }, async (request) => {
    const user = request.requireUser('reading your unread counts')
    const max = app.config.UNREAD_MAX
    const markers = await store.markers(user.id)
    // a channel the user may no longer read (left a private channel) drops out of the list
    const refusals = await Promise.all(markers.map((m) => app.channels.refusal(user, m.channelId, 'read')))
    const readable = markers.filter((_m, i) => refusals[i] === undefined).sort((a, b) => a.channelId < b.channelId ? -1 : 1)
    // from the channels' counters: a constant number of store reads, whatever their history
    const counts = await store.unread(user.id, readable, max)
    const channels = readable.map((m) => {
      const { unread, mentions } = counts.get(m.channelId) ?? { unread: 0, mentions: 0 }
      return { channelId: m.channelId, unread: Math.min(unread, max), capped: unread > max, mentions: Math.min(mentions, max), lastReadMessageId: m.messageId, position: m.position }
    })
    return { channels }
  })

  app.get('/api/messages/:id/receipts', {
    schema: {
      tags: ['read state'],
      summary: 'Who has read a message (channels of at most RECEIPTS_MAX_READERS readers)',
      params: MessageParams,
      response: { 200: ReceiptsResponse, ...errors }
    }
  }, async (request) => {
    const user = request.requireUser('reading receipts')
    const message = await app.findMessage(user, request.params.id)
    const max = app.config.RECEIPTS_MAX_READERS
    if (!message.position) return { readBy: [] }
    if (await store.readers(message.channelId, max) > max) {
      return { readBy: null, reason: `more than ${max} users read channel ${message.channelId} (RECEIPTS_MAX_READERS): no receipts` }
    }
    const markers = await store.readBy(message.channelId, message.position, max)
    return { readBy: markers.map((m) => ({ userId: m.userId, readAt: m.readAt })) }
  })

  app.get('/api/users/me/settings', {
    schema: { tags: ['read state'], summary: 'Your settings', response: { 200: UserSettings, 401: ErrorResponse, 503: ErrorResponse } }
  }, async (request) => {
    const user = request.requireUser('reading your settings')
    return { receipts: !(await store.receiptsOff([user.id])).has(user.id) }
  })

  app.put('/api/users/me/settings', {
    schema: {
      tags: ['read state'],
      summary: 'Change your settings (receipts: false hides you from readBy and sends no receipt.read of yours)',
      body: UserSettings,
      response: { 200: UserSettings, 400: ErrorResponse, 401: ErrorResponse, 503: ErrorResponse }
    }
  }, async (request) => {
    const user = request.requireUser('changing your settings')
    await store.setReceipts(user.id, request.body.receipts)
    return { receipts: request.body.receipts }
  })
}

export default readState
