// Two instances of switchboard on one Kafka, Redis and MongoDB, as a deployment runs them.
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { Kafka, logLevel } from 'kafkajs'
import { Redis } from 'ioredis'
import { MongoClient } from 'mongodb'
import { Client } from '../helper.ts'
import { as, lastOn, recordProduced } from '../chat.ts'
import { buildReal, cleanupReal, handledLog, realNames, requireServices, services, unique } from '../services.ts'

if (await requireServices(t, 'kafka', 'redis', 'mongo')) {
  const names = realNames('multi')
  const redis = new Redis(services.redis)
  const mongo = new MongoClient(services.mongo)
  const kafka = new Kafka({ clientId: 'switchboard-test', brokers: services.kafka.split(','), logLevel: logLevel.NOTHING })
  const admin = kafka.admin()
  await admin.connect()

  const a = await buildReal(t, { names })
  const b = await buildReal(t, { names })
  const apps = [a, b]
  // A shared record is handled by whichever instance owns its partition: the log covers both.
  const log = handledLog(a, b)
  // Teardowns run in the order they were added: the apps stop first, then this.
  t.teardown(async () => {
    await Promise.all([redis.quit(), mongo.close(), admin.disconnect()])
    await cleanupReal(names)
  })

  t.test('a message posted to one instance reaches the clients of both, exactly once', async (t) => {
    const channel = unique('room')
    const clients = await Promise.all(apps.map((app) => Client.connect(`ws://127.0.0.1:${app.fanout.uwsPort}/ws`)))
    t.teardown(() => Promise.all(clients.map((c) => c.close())))
    for (const c of clients) t.match(await c.subscribe(channel), { op: 'subscribed', channel })

    const post = async (app: FastifyInstance, content: string) => {
      const res = await app.inject({ method: 'POST', url: '/api/messages', payload: { channelId: channel, content, senderId: 'u1' } })
      t.equal(res.statusCode, 201, `posted ${content}`)
      return res.json()
    }
    const first = await post(a, 'first')
    const second = await post(b, 'second')
    for (const [i, c] of clients.entries()) {
      const ofMessages = (f: Record<string, any>) => f.op === 'event' && f.channel === channel
      const e1 = await c.next(ofMessages)
      const e2 = await c.next(ofMessages)
      // One channel, one partition, one order: a duplicate of the first would come before the second.
      t.same([e1.data.id, e2.data.id], [first.id, second.id], `client of instance ${i === 0 ? 'a' : 'b'}: each once, in order`)
      t.same(e1.position, first.position, 'with the position the POST answered')
    }
    t.equal(clients[0].frames.filter((f) => f.op === 'event').length, 2, 'nothing else arrived')
    t.equal(clients[1].frames.filter((f) => f.op === 'event').length, 2, 'nothing else arrived')

    await Promise.all([log.handled('messages-store', second.position), log.handled('messages-cache', second.position)])
    const [fromA, fromB] = await Promise.all(apps.map((app) => app.inject({ url: `/api/channels/${channel}/messages` })))
    t.same(fromA.json().messages.map((m: any) => m.id), [second.id, first.id], 'history newest first')
    t.same(fromB.json(), fromA.json(), 'the same history from either instance')
  })

  t.test('a posted message lands in Redis and MongoDB, read directly', async (t) => {
    const channel = unique('seed')
    const res = await a.inject({ method: 'POST', url: '/api/messages', payload: { channelId: channel, content: 'hello', senderId: 'u1', senderName: 'User One' } })
    t.equal(res.statusCode, 201)
    const message = res.json()
    await Promise.all([log.handled('messages-store', message.position), log.handled('messages-cache', message.position)])

    const cached = await redis.hget(`${names.keyPrefix}channel:{${channel}}:msgs`, message.id)
    t.same(JSON.parse(cached ?? 'null'), message, 'in the Redis cache, with its position')
    t.same(await redis.zrange(`${names.keyPrefix}channel:{${channel}}:ids`, 0, -1), [message.id], 'in the channel index')
    const ttl = await redis.ttl(`${names.keyPrefix}channel:{${channel}}:msgs`)
    t.ok(ttl > 0 && ttl <= 3600, `with the cache TTL (${ttl} s)`)

    const { _id, applied, ...doc } = (await mongo.db(names.database).collection('messages').findOne({ _id: message.id as any }))!
    t.same({ id: _id, ...doc }, message, 'in MongoDB, keyed by the message id')
    t.same(applied, { epoch: message.position.epoch, offset: Number(message.position.offset) }, 'with the position of the last event applied to it')
  })

  t.test('read-your-writes across instances (Redis): right after the 201 on one, the author edits and deletes on the other before MongoDB has the message', async (t) => {
    const channel = unique('ryw')
    // the store's writes held on both instances (either may own the partition) until the end
    let release!: () => void
    const held = new Promise<void>((resolve) => { release = resolve })
    for (const app of apps) {
      const apply = app.store.apply.bind(app.store)
      app.store.apply = async (changes) => { await held; return apply(changes) }
      t.teardown(() => { app.store.apply = apply })
    }
    const posted = async (content: string) => {
      const res = await a.inject({ method: 'POST', url: '/api/messages', headers: as('alice'), payload: { channelId: channel, content } })
      t.equal(res.statusCode, 201)
      return res.json()
    }
    const kept = await posted('helo')
    const gone = await posted('oops')
    t.equal(await b.store.get(kept.id), null, 'not in MongoDB yet')
    const produced = recordProduced(b)
    t.equal((await b.inject({ method: 'PATCH', url: `/api/messages/${kept.id}`, headers: as('bob'), payload: { content: 'x' } })).statusCode, 403, 'someone else: 403')
    const edited = await b.inject({ method: 'PATCH', url: `/api/messages/${kept.id}`, headers: as('alice'), payload: { content: 'hello' } })
    t.equal(edited.statusCode, 200, 'the author edits it on the other instance')
    t.same(edited.json(), { ...kept, content: 'hello', editedAt: edited.json().editedAt })
    t.equal((await b.inject({ method: 'DELETE', url: `/api/messages/${gone.id}`, headers: as('alice') })).statusCode, 204, 'and deletes the other one there')
    t.equal((await a.inject({ method: 'PATCH', url: `/api/messages/${gone.id}`, headers: as('alice'), payload: { content: 'back' } })).statusCode, 404, 'which is gone on the first instance too')
    const recorded = await redis.get(`${names.keyPrefix}recent-message:${kept.id}`)
    t.same(JSON.parse(recorded ?? 'null'), { id: kept.id, channelId: channel, senderId: 'alice', senderName: 'alice', createdAt: kept.createdAt, position: kept.position }, 'recorded in Redis without its text')
    const ttl = await redis.ttl(`${names.keyPrefix}recent-message:${kept.id}`)
    t.ok(ttl > 0 && ttl <= 600, `for 10 minutes (${ttl} s)`)
    release()
    // everything handled, as the graceful stop below expects
    const deletion = lastOn(produced, 'messages')
    await Promise.all([log.handled('messages-store', deletion), log.handled('messages-cache', deletion)])
    t.same(await a.store.get(kept.id), edited.json(), 'once stored, the message is what the edit answered')
  })

  t.test('after a graceful stop every shared consumer group has handled everything (lag 0)', async (t) => {
    // Stopping commits what was handled; the broadcast groups belong to one run and are removed.
    await Promise.all(apps.map((app) => app.close()))
    const topic = `${names.topicPrefix}messages`
    const ends = await admin.fetchTopicOffsets(topic)
    t.ok(ends.some((p) => p.high !== '0'), 'the topic holds the messages')
    // the messages topic has consumers (groups) of its own: `shared.messages` holds the store and mention
    // handlers, `shared.messages.cache` the cache and recovery handlers (on Redis: they go on while MongoDB is down)
    for (const group of ['shared.messages', 'shared.messages.cache']) {
      const [committed] = await admin.fetchOffsets({ groupId: `${names.topicPrefix}${group}`, topics: [topic] })
      const lag = ends.map((end) => {
        const done = committed.partitions.find((p) => p.partition === end.partition)?.offset ?? '-1'
        return Number(end.high) - Math.max(Number(done), 0)
      })
      t.same(lag, ends.map(() => 0), `${group}: lag 0 on every partition`)
    }
    const groups = (await admin.listGroups()).groups.map((g) => g.groupId)
    t.notOk(groups.some((g) => g.startsWith(`${names.topicPrefix}messages-fanout.`)), 'no broadcast group left behind')
  })
}
