// The comparison baseline: the usual Node chat stack, Socket.IO with its Redis adapter (so it could
// scale out like switchboard), one room per channel, and the same POST /api/messages as switchboard.
// It persists nothing: each post is broadcast at once. Benchmarks only; not part of the service.
import { randomBytes } from 'node:crypto'
import Fastify, { type FastifyInstance } from 'fastify'
import { Redis } from 'ioredis'
import { Server } from 'socket.io'
import { createAdapter } from '@socket.io/redis-adapter'
import { ObjectId } from 'mongodb'

export interface ReferenceOptions { redisUrl: string }

const CHANNEL = /^[A-Za-z0-9_.:-]{1,128}$/

const PostBody = {
  type: 'object',
  required: ['channelId', 'content'],
  properties: {
    channelId: { type: 'string', pattern: CHANNEL.source },
    content: { type: 'string', minLength: 1, maxLength: 4000 },
    senderId: { type: 'string', minLength: 1, maxLength: 128 },
    senderName: { type: 'string', minLength: 1, maxLength: 128 }
  }
} as const

interface PostMessage { channelId: string, content: string, senderId?: string, senderName?: string }

export async function createReferenceServer ({ redisUrl }: ReferenceOptions): Promise<FastifyInstance> {
  const pub = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 })
  const sub = pub.duplicate()
  try {
    await Promise.all([pub.connect(), sub.connect()])
  } catch (err) {
    pub.disconnect()
    sub.disconnect()
    throw new Error(`the Socket.IO reference needs Redis at ${redisUrl}: ${(err as Error).message}`)
  }
  const app = Fastify({ logger: false, bodyLimit: 65536 })
  // A key of its own, so runs side by side never see each other's broadcasts.
  const io = new Server(app.server, { adapter: createAdapter(pub, sub, { key: `sb-bench-ref-${randomBytes(4).toString('hex')}` }), serveClient: false })

  io.on('connection', (socket) => {
    socket.on('subscribe', (channel: unknown, ack: unknown) => {
      const reply = typeof ack === 'function' ? ack as (a: unknown) => void : () => {}
      if (typeof channel !== 'string' || !CHANNEL.test(channel)) return reply({ ok: false, message: 'bad channel id' })
      void socket.join(channel)
      reply({ ok: true })
    })
  })

  app.post<{ Body: PostMessage }>('/api/messages', { schema: { body: PostBody } }, async (request, reply) => {
    const { channelId, content } = request.body
    const senderId = request.body.senderId ?? 'anonymous'
    const message = { id: new ObjectId().toHexString(), channelId, senderId, senderName: request.body.senderName ?? senderId, content, createdAt: new Date().toISOString() }
    // Socket.IO encodes the packet once per broadcast and publishes it to Redis for other nodes.
    io.to(channelId).emit('event', { op: 'event', channel: channelId, type: 'message.created', data: message })
    return reply.code(201).send(message)
  })

  // Not io.close(): it would close the HTTP server that Fastify closes itself.
  app.addHook('preClose', async () => { io.disconnectSockets(true); io.engine.close() })
  app.addHook('onClose', async () => {
    pub.disconnect()
    sub.disconnect()
  })
  return app
}
