// Channels created explicitly: public or private, with members. Channels never created are public.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyRequest } from 'fastify'
import { Type } from '@sinclair/typebox'
import { ErrorResponse } from '../schemas/http.ts'
import { Channel, ChannelIdParams, CreateChannelBody, MemberParams } from '../schemas/channel.ts'
import { PERSONAL_PREFIX, STATUS_PREFIX, isPersonalChannel, isStatusChannel } from '../schemas/channel-kinds.ts'

/** Whether a stored channel is what this creation asks for (then the request is a retry of it). */
const sameCreation = (stored: Channel, asked: Channel) =>
  stored.ownerId === asked.ownerId && stored.name === asked.name && stored.private === asked.private &&
  stored.members.length === asked.members.length && asked.members.every((m) => stored.members.includes(m))

const channels: FastifyPluginAsyncTypebox = async (app) => {
  // What the handlers answer; the framework's statuses (413, 415, 429 …) are added by plugins/external/docs.ts.
  const errors = { 400: ErrorResponse, 401: ErrorResponse, 403: ErrorResponse, 404: ErrorResponse, 503: ErrorResponse }

  /** Channel writes need someone to own them: a token, or x-user-id with auth off. */
  const caller = (request: FastifyRequest) => {
    if (!request.user) throw app.httpErrors.unauthorized('managing channels needs an identity: a bearer token (or x-user-id with auth off)')
    return request.user
  }

  /**
   * Whether the id has carried a message, as far as anything here can tell: the store (messages not
   * deleted), then the log's traces of it — the shared recovery log (recent events of the channel,
   * deletions included, from every instance), this instance's last fanned-out position, the cache
   * (messages cached before the store has them). Deletions older than the recovery log's window
   * leave no trace the store shows (docs/known-limits.md).
   */
  const used = async (id: string): Promise<boolean> => {
    if ((await app.store.page(id, { limit: 1 })).length > 0) return true
    if (app.fanout.hub.position(id)) return true
    if (await app.recovery.log.read(id)) return true
    return ((await app.cache.page(id, { limit: 1 })) ?? []).length > 0
  }

  const existing = async (id: string) => {
    const channel = await app.channels.store.get(id)
    if (!channel) throw app.httpErrors.notFound(`channel ${id} was never created: it is public and has no members`)
    return channel
  }

  app.post('/api/channels', {
    schema: {
      tags: ['channels'],
      summary: 'Create a channel (public unless private: true); the creator is its owner and first member',
      body: CreateChannelBody,
      response: { 201: Channel, 400: ErrorResponse, 401: ErrorResponse, 403: ErrorResponse, 409: ErrorResponse, 503: ErrorResponse }
    }
  }, async (request, reply) => {
    const user = caller(request)
    const { id, name, members = [] } = request.body
    if (isPersonalChannel(id)) throw app.httpErrors.forbidden(`channel ids starting with ${PERSONAL_PREFIX} are personal channels and cannot be created`)
    if (isStatusChannel(id)) throw app.httpErrors.forbidden(`channel ids starting with ${STATUS_PREFIX} are users' status channels and cannot be created`)
    const channel: Channel = {
      id,
      name: name ?? id,
      private: request.body.private ?? false,
      ownerId: user.id,
      members: [...new Set([user.id, ...members])],
      createdAt: new Date().toISOString()
    }
    // The retry a 503 asks for (stored, not announced): the same creation by its owner announces
    // again and answers as the first would have, so subscribers from the public days are dropped.
    const stored = await app.channels.store.get(id)
    if (stored) {
      if (!sameCreation(stored, channel)) throw app.httpErrors.conflict(`channel ${id} already exists`)
      await app.channels.announce(id)
      return reply.code(201).send(stored)
    }
    // A channel already in use (posted to before it was created, even if those messages are deleted
    // or not stored yet) stays public: nobody may claim it and so cut off its subscribers.
    if (await used(id)) throw app.httpErrors.conflict(`channel ${id} already exists (it has messages): an id that has carried messages cannot be claimed`)
    // Announced on the `channels` topic by app.channels: clients who subscribed to the id while it
    // was public are dropped on every instance (consumers/channels-access.ts).
    if (!await app.channels.create(channel)) throw app.httpErrors.conflict(`channel ${id} already exists`)
    return reply.code(201).send(channel)
  })

  app.get('/api/channels/:id', {
    schema: { tags: ['channels'], summary: 'A created channel and its members (members only when private)', params: ChannelIdParams, response: { 200: Channel, ...errors } }
  }, async (request) => {
    const channel = await existing(request.params.id)
    await app.channels.assertAccess(request.user, channel.id, 'read')
    return channel
  })

  app.put('/api/channels/:id/members/:userId', {
    schema: { tags: ['channels'], summary: 'Add a member (members and the owner may); idempotent', params: MemberParams, response: { 204: Type.Null(), ...errors } }
  }, async (request, reply) => {
    const user = caller(request)
    const { id, userId } = request.params
    const channel = await existing(id)
    if (channel.ownerId !== user.id && !channel.members.includes(user.id)) throw app.httpErrors.forbidden(`only members of channel ${id} may add members`)
    if (!await app.channels.addMember(id, userId)) throw app.httpErrors.notFound(`channel ${id} no longer exists`)
    return reply.code(204).send(null)
  })

  app.delete('/api/channels/:id/members/:userId', {
    schema: { tags: ['channels'], summary: 'Remove a member (the owner may remove anyone, members themselves); idempotent', params: MemberParams, response: { 204: Type.Null(), ...errors, 409: ErrorResponse } }
  }, async (request, reply) => {
    const user = caller(request)
    const { id, userId } = request.params
    const channel = await existing(id)
    if (userId === channel.ownerId) throw app.httpErrors.conflict(`the owner of channel ${id} cannot be removed`)
    if (user.id !== channel.ownerId && user.id !== userId) throw app.httpErrors.forbidden(`only the owner of channel ${id} may remove other members`)
    // Announced by app.channels: their live subscriptions end on every instance (consumers/channels-access.ts).
    if (!await app.channels.removeMember(id, userId)) throw app.httpErrors.notFound(`channel ${id} no longer exists`)
    return reply.code(204).send(null)
  })
}

export default channels
