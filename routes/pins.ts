// Pinning messages of a channel: in a private channel its members, in a public one any identified
// user (the same rule as posting: whoever may write there may pin). At most PINS_MAX per channel.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { ChannelParams, ErrorResponse } from '../schemas/http.ts'
import { PinList, PinParams, type Pin } from '../schemas/pin.ts'
import type { User } from '../plugins/auth.ts'

const pins: FastifyPluginAsyncTypebox = async (app) => {
  const errors = { 400: ErrorResponse, 401: ErrorResponse, 403: ErrorResponse, 404: ErrorResponse, 503: ErrorResponse }
  const { PINS_MAX } = app.config

  app.put('/api/channels/:channelId/pins/:messageId', {
    schema: {
      tags: ['pins'],
      summary: `Pin a message of the channel (idempotent); at most ${PINS_MAX} per channel (PINS_MAX), 409 beyond`,
      params: PinParams,
      response: { 204: { type: 'null', description: 'pinned: its place is taken and the log has it' }, ...errors, 409: ErrorResponse }
    }
  }, async (request, reply) => {
    const user = request.requireUser('pinning a message')
    const { channelId, messageId } = request.params
    await target(user, channelId, messageId)
    if (!await app.pins.pin(channelId, messageId, user.id)) throw app.httpErrors.conflict(`channel ${channelId} has ${PINS_MAX} pinned messages already (PINS_MAX): unpin one first`)
    return reply.code(204).send()
  })

  app.delete('/api/channels/:channelId/pins/:messageId', {
    schema: {
      tags: ['pins'],
      summary: 'Unpin a message of the channel (idempotent)',
      params: PinParams,
      response: { 204: { type: 'null', description: 'unpinned: the log has it' }, ...errors }
    }
  }, async (request, reply) => {
    const user = request.requireUser('unpinning a message')
    const { channelId, messageId } = request.params
    await target(user, channelId, messageId)
    // produced even when not pinned: it also undoes a pin still on its way to the store
    await app.pins.unpin(channelId, messageId, user.id, true)
    return reply.code(204).send()
  })

  app.get('/api/channels/:channelId/pins', {
    schema: {
      tags: ['pins'],
      summary: "The channel's pinned messages, newest pin first",
      params: ChannelParams,
      response: { 200: PinList, 400: ErrorResponse, 401: ErrorResponse, 403: ErrorResponse, 503: ErrorResponse }
    },
    preHandler: app.channels.guard('read')
  }, async (request) => {
    const records = await app.pins.list(request.params.channelId)
    const messages = await Promise.all(records.map((r) => app.store.get(r.messageId)))
    const pins: Pin[] = []
    records.forEach((r, i) => {
      const message = messages[i]
      // a message deleted since is on its way out of the pins (consumers/messages-pins.ts)
      if (message && message.channelId === r.channelId) pins.push({ message, pinnedBy: r.pinnedBy, pinnedAt: r.pinnedAt })
    })
    return { pins }
  })

  /**
   * The message to pin or unpin: one the caller may read (a private channel's message answers a
   * non-member exactly like an unknown id: findMessage's 404) in this channel (another channel's: a
   * 404 as well), in a channel the caller may write to (personal channels: 403).
   */
  async function target (user: User, channelId: string, messageId: string) {
    const message = await app.findMessage(user, messageId)
    if (message.channelId !== channelId) throw app.httpErrors.notFound(`no message ${messageId} in channel ${channelId}`)
    await app.channels.assertAccess(user, channelId, 'write')
  }
}

export default pins
