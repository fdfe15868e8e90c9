// The seed's own design, rebuilt as a comparison baseline on the same real services as switchboard
// (benchmarks only; not part of the service). One instance, Socket.IO rooms, and the seed's path:
//   POST /api/messages → MongoDB insertOne → Kafka produce (one topic, key = channel) → 201;
//   a consumer group (kafkajs, one message at a time) → Redis recent list with a 1-hour TTL
//   (LPUSH + LTRIM + EXPIRE) → io.to(channel).emit.
// The save-then-publish dual write and the per-message consume are the design under comparison.
// With one instance a plain Socket.IO server is faithful: the seed ran one consumer group per topic,
// so only one instance could deliver anyway. Each run gets its own topic, group, database and key
// prefix, removed when it closes. The event has the shape of reference/server.ts, so the same
// Socket.IO subscriber code reads both.
import { randomBytes } from 'node:crypto'
import Fastify, { type FastifyInstance } from 'fastify'
import { Redis } from 'ioredis'
import { Kafka, Partitioners, logLevel } from 'kafkajs'
import { MongoClient, ObjectId } from 'mongodb'
import { Server } from 'socket.io'
// kafkajs's idle 1 ms timer loop is a library bug, not the design: the same fix as switchboard's
import '../../../plugins/bus/kafkajs-patches.ts'

export interface SeedOptions {
  kafkaBrokers: string[]
  redisUrl: string
  mongoUrl: string
  /** partitions of the run's topic: switchboard's KAFKA_PARTITIONS, so both spread the same way */
  partitions: number
}

const CHANNEL = /^[A-Za-z0-9_.:-]{1,128}$/
const RECENT = 50
const TTL_SECONDS = 3600

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
interface StoredMessage { _id: ObjectId, channelId: string, senderId: string, senderName: string, content: string, createdAt: Date }

export async function createSeedServer (options: SeedOptions): Promise<{ app: FastifyInstance, names: { topic: string, db: string, keyPrefix: string } }> {
  const run = randomBytes(4).toString('hex')
  const names = { topic: `sb-bench-seed-${run}-messages`, group: `sb-bench-seed-${run}-cache`, db: `sb_bench_seed_${run}`, keyPrefix: `sb-bench-seed-${run}:` }
  const kafka = new Kafka({ clientId: `sb-bench-seed-${run}`, brokers: options.kafkaBrokers, logLevel: logLevel.WARN })
  const admin = kafka.admin()
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner })
  const consumer = kafka.consumer({ groupId: names.group })
  const redis = new Redis(options.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 })
  const mongo = new MongoClient(options.mongoUrl, { serverSelectionTimeoutMS: 5000 })
  const keys = new Set<string>()
  const cleanup = async () => {
    await consumer.disconnect().catch(() => {})
    await producer.disconnect().catch(() => {})
    await admin.deleteTopics({ topics: [names.topic] }).catch(() => {})
    await admin.deleteGroups([names.group]).catch(() => {})
    await admin.disconnect().catch(() => {})
    if (keys.size > 0) await redis.unlink(...keys).catch(() => {})
    redis.disconnect()
    await mongo.db(names.db).dropDatabase().catch(() => {})
    await mongo.close().catch(() => {})
  }
  try {
    await Promise.all([
      redis.connect().catch((err: Error) => { throw new Error(`the seed reference needs Redis at ${options.redisUrl}: ${err.message}`) }),
      mongo.connect().catch((err: Error) => { throw new Error(`the seed reference needs MongoDB at ${options.mongoUrl}: ${err.message}`) }),
      admin.connect().then(() => admin.createTopics({ topics: [{ topic: names.topic, numPartitions: options.partitions, replicationFactor: 1 }], waitForLeaders: true }))
        .catch((err: Error) => { throw new Error(`the seed reference needs Kafka at ${options.kafkaBrokers.join(',')}: ${err.message}`) })
    ])
    await Promise.all([producer.connect(), consumer.connect()])
  } catch (err) {
    await cleanup()
    throw err
  }
  const messages = mongo.db(names.db).collection<StoredMessage>('messages')

  const app = Fastify({ logger: false, bodyLimit: 65536 })
  const io = new Server(app.server, { serveClient: false })
  io.on('connection', (socket) => {
    socket.on('subscribe', (channel: unknown, ack: unknown) => {
      const reply = typeof ack === 'function' ? ack as (a: unknown) => void : () => {}
      if (typeof channel !== 'string' || !CHANNEL.test(channel)) return reply({ ok: false, message: 'bad channel id' })
      void socket.join(channel)
      reply({ ok: true })
    })
  })

  // The write path: save, then publish; 201 once both are done.
  app.post<{ Body: PostMessage }>('/api/messages', { schema: { body: PostBody } }, async (request, reply) => {
    const { channelId, content } = request.body
    const senderId = request.body.senderId ?? 'anonymous'
    const doc: StoredMessage = { _id: new ObjectId(), channelId, senderId, senderName: request.body.senderName ?? senderId, content, createdAt: new Date() }
    await messages.insertOne(doc)
    const message = { id: doc._id.toHexString(), channelId, senderId, senderName: doc.senderName, content, createdAt: doc.createdAt.toISOString() }
    await producer.send({ topic: names.topic, messages: [{ key: channelId, value: JSON.stringify(message) }] })
    return reply.code(201).send(message)
  })

  // The consume path: each message cached, then emitted to its room.
  await consumer.subscribe({ topics: [names.topic], fromBeginning: true })
  const joined = new Promise<void>((resolve) => { consumer.on(consumer.events.GROUP_JOIN, () => resolve()) })
  await consumer.run({
    eachMessage: async ({ message: record }) => {
      const message = JSON.parse(record.value!.toString()) as { channelId: string }
      const key = `${names.keyPrefix}recent:${message.channelId}`
      keys.add(key)
      await redis.multi().lpush(key, record.value!).ltrim(key, 0, RECENT - 1).expire(key, TTL_SECONDS).exec()
      io.to(message.channelId).emit('event', { op: 'event', channel: message.channelId, type: 'message.created', data: message })
    }
  })
  await joined // posts before the group has its partitions would only wait in the topic, but the first latencies would include the join

  // Not io.close(): it would close the HTTP server that Fastify closes itself.
  app.addHook('preClose', async () => { io.disconnectSockets(true); io.engine.close() })
  app.addHook('onClose', cleanup)
  return { app, names }
}
