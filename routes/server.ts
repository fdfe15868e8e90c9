// The server API: other services publish messages with an API key (SERVER_API_KEYS), through the
// same path as users' posts (the `messages` log, then store, cache, fanout, recovery). Trusted:
// no membership, moderation or user rate limit; the personal channel `user:<id>` is open to it.
// An Idempotency-Key makes a retry return the first answer instead of publishing again.
import { createHash } from 'node:crypto'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type, type Static } from '@sinclair/typebox'
import { ErrorResponse } from '../schemas/http.ts'
import { ChannelId, Message, MessageContent, UserId } from '../schemas/message.ts'
import { STATUS_PREFIX } from '../plugins/channels/index.ts'

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
    if (channelId.startsWith(STATUS_PREFIX)) throw app.httpErrors.forbidden(`channel ${channelId} is a user's status: only the server's status events go there`)
  }

  function publish (channelId: string, content: string, sender: { senderId?: string, senderName?: string }): Promise<Message> {
    const senderId = sender.senderId ?? 'system'
    return app.posting.post({ channelId, senderId, senderName: sender.senderName ?? senderId, content })
  }

  /** Runs `work` once per API key and Idempotency-Key; a repeat gets the first answer (409 with another body). */
  async function once<T> (request: { apiKey: { id: string } | null, headers: Static<typeof Headers>, url: string, body: unknown }, reply: { header (k: string, v: string): unknown }, work: () => Promise<T>, created: (result: T) => Message[]): Promise<T> {
    const key = request.headers['idempotency-key']
    if (key === undefined) return work()
    const fingerprint = createHash('sha256').update(JSON.stringify([request.url, request.body])).digest('hex')
    const { result, replayed } = await app.posting.once({ scope: `api-key:${request.apiKey!.id}`, key, name: 'Idempotency-Key', fingerprint, reused: 'was already used for another request' }, work, created)
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
    const result = await once(request, reply, async () => ({ messages: await Promise.all(channelIds.map((channelId) => publish(channelId, text, sender))) }), (result) => result.messages)
    return reply.code(201).send(result)
  })
}

export default server
