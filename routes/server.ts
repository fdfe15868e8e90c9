// The server API: other services publish messages with an API key (SERVER_API_KEYS), through the
// same path as users' posts (the `messages` log, then store, cache, fanout, recovery). Trusted:
// no membership, moderation or user rate limit; the personal channel `user:<id>` is open to it.
// An Idempotency-Key makes a retry return the first answer instead of publishing again; a broadcast
// also remembers each channel it published under the key, so a retry after a partial failure
// publishes only the rest.
import { createHash } from 'node:crypto'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type, type Static } from '@sinclair/typebox'
import { ErrorResponse } from '../schemas/http.ts'
import { ChannelId, Message, MessageContent, UserId } from '../schemas/message.ts'
import { isStatusChannel } from '../schemas/channel-kinds.ts'

/** Channels one broadcast may name. */
export const MAX_BROADCAST_CHANNELS = 100

const Headers = Type.Object({
  'x-api-key': Type.Optional(Type.String({ description: 'one of SERVER_API_KEYS (required; 401 without)' })),
  'idempotency-key': Type.Optional(Type.String({ minLength: 1, maxLength: 128, description: 'the same key (with the same API key) within 10 minutes returns the first answer, header idempotent-replayed: true; with another body, 409' }))
})
const Sender = {
  senderId: Type.Optional(Type.Unsafe<string>({ ...UserId, description: 'who the message is from (default "system")' })),
  senderName: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'default: the senderId' }))
}

const server: FastifyPluginAsyncTypebox = async (app) => {
  const content = MessageContent(app.config.MESSAGE_MAX_LENGTH, `at most ${app.config.MESSAGE_MAX_LENGTH} characters (MESSAGE_MAX_LENGTH), not blank`)
  const PublishBody = Type.Object({ channelId: ChannelId, content, ...Sender }, { additionalProperties: false })
  const BroadcastBody = Type.Object({
    channelIds: Type.Array(ChannelId, { minItems: 1, maxItems: MAX_BROADCAST_CHANNELS, uniqueItems: true }),
    content,
    ...Sender
  }, { additionalProperties: false })
  const guard = app.apiKeys.guard('server')
  const common = { tags: ['server'], headers: Headers }
  const errors = { 400: ErrorResponse, 401: ErrorResponse, 403: ErrorResponse, 409: ErrorResponse, 413: ErrorResponse, 503: ErrorResponse }

  function refuse (channelId: string) {
    if (isStatusChannel(channelId)) throw app.httpErrors.forbidden(`channel ${channelId} is a user's status: only the server's status events go there`)
  }

  function publish (channelId: string, content: string, sender: { senderId?: string, senderName?: string }): Promise<Message> {
    const senderId = sender.senderId ?? 'system'
    return app.posting.post({ channelId, senderId, senderName: sender.senderName ?? senderId, content })
  }

  type Keyed = { apiKey: { id: string } | null, headers: Static<typeof Headers>, url: string, body: unknown }
  const fingerprintOf = (request: Keyed) => createHash('sha256').update(JSON.stringify([request.url, request.body])).digest('hex')

  /** Runs `work` once per API key and Idempotency-Key; a repeat gets the first answer (409 with another body). */
  async function once<T> (request: Keyed, reply: { header (k: string, v: string): unknown }, work: () => Promise<T>, created: (result: T) => Message[]): Promise<T> {
    const key = request.headers['idempotency-key']
    if (key === undefined) return work()
    const { result, replayed } = await app.posting.once({ scope: `api-key:${request.apiKey!.id}`, key, name: 'Idempotency-Key', fingerprint: fingerprintOf(request), reused: 'was already used for another request' }, work, created)
    if (replayed) reply.header('idempotent-replayed', 'true')
    return result
  }

  app.post('/api/server/publish', {
    onRequest: guard,
    config: { rateLimit: false },
    schema: { ...common, summary: 'Publish a message to one channel as a service (API key): stored, cached, delivered, recoverable like a user\'s post', body: PublishBody, response: { 201: Message, ...errors } }
  }, async (request, reply) => {
    const { channelId, content: text, ...sender } = request.body
    refuse(channelId)
    return reply.code(201).send(await once(request, reply, () => publish(channelId, text, sender), (message) => [message]))
  })

  app.post('/api/server/broadcast', {
    onRequest: guard,
    config: { rateLimit: false },
    schema: { ...common, summary: `Publish the same text to up to ${MAX_BROADCAST_CHANNELS} channels as a service (API key): one message per channel`, body: BroadcastBody, response: { 201: Type.Object({ messages: Type.Array(Message) }), ...errors } }
  }, async (request, reply) => {
    const { channelIds, content: text, ...sender } = request.body
    channelIds.forEach(refuse)
    const key = request.headers['idempotency-key']
    // Under a key, each channel's message is remembered on its own (the key, the body and the
    // channel; `/` keeps the scope apart from user ids): a retry gets back the channels already
    // published, with their ids and positions, and publishes only the others.
    const scope = `broadcast/${request.apiKey!.id}`
    const fingerprint = key === undefined ? '' : fingerprintOf(request)
    const publishOnce = async (channelId: string) => {
      if (key === undefined) return publish(channelId, text, sender)
      const { value } = await app.nonces.once(scope, JSON.stringify([key, fingerprint, channelId]), async () => JSON.stringify(await publish(channelId, text, sender)))
      return JSON.parse(value) as Message
    }
    const result = await once(request, reply, async () => {
      const outcomes = await Promise.allSettled(channelIds.map(publishOnce))
      const failed = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected').map((o) => o.reason as unknown)
      if (failed.length === 0) return { messages: outcomes.map((o) => (o as PromiseFulfilledResult<Message>).value) }
      // A refused partition is a 503 (the log is unavailable); anything else is answered as it is.
      const other = failed.find((err) => (err as { statusCode?: number }).statusCode !== 503)
      if (other) throw other
      const retry = key === undefined ? 'a retry publishes every channel again (send an Idempotency-Key to publish only the rest)' : 'retry with the same Idempotency-Key to publish only the rest'
      throw app.httpErrors.serviceUnavailable(`${channelIds.length - failed.length} of ${channelIds.length} channels published, ${failed.length} not (event log unavailable); ${retry}`)
    }, (result) => result.messages)
    return reply.code(201).send(result)
  })
}

export default server
