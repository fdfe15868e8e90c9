// Outages of Kafka, Redis and MongoDB, one at a time. The app reaches each service through a TCP
// proxy this file cuts and restores (test/proxy.ts): the services keep running for the other test
// files, and the app sees exactly what an outage looks like (connections reset, then refused).
import t, { type Test } from 'tap'
import { MongoServerSelectionError } from 'mongodb'
import type { Message } from '../../schemas/message.ts'
import type { HandledRecord } from '../../plugins/topic-handlers.ts'
import { createKafkaBus } from '../../plugins/bus/kafka/index.ts'
import { Client } from '../helper.ts'
import { KafkaProxy, TcpProxy } from '../proxy.ts'
import { address, buildReal, cleanupReal, handledLog, realNames, requireServices, services, testLogger, unique } from '../services.ts'

if (await requireServices(t, 'kafka', 'redis', 'mongo')) {
  const names = realNames('failures')
  const brokers = services.kafka.split(',')
  const [kafka, redisProxy, mongoProxy] = await Promise.all([KafkaProxy.start(brokers), TcpProxy.start(address('redis')), TcpProxy.start(address('mongo'))])
  // The Kafka bus the app would build, connecting through the proxies (an injected bus is left
  // open by the app: it is closed after the app, below).
  const instanceId = unique('f')
  const bus = createKafkaBus({ brokers, clientId: 'switchboard-test', topicPrefix: names.topicPrefix, partitions: 3, instanceId, logger: testLogger(), socketFactory: kafka.socketFactory })
  const app = await buildReal(t, {
    names,
    INSTANCE_ID: instanceId,
    // never trust the local channel copy as fresh: the MongoDB outage below must fall back to the
    // last known state, not to a copy that is merely still fresh
    CHANNEL_CACHE_MS: 0,
    REDIS_URL: `redis://127.0.0.1:${redisProxy.port}`,
    MONGO_URL: `mongodb://127.0.0.1:${mongoProxy.port}/?directConnection=true`,
    ...(process.env.TEST_LOG_LEVEL ? { LOG_LEVEL: process.env.TEST_LOG_LEVEL as 'warn' } : {})
  }, { bus })
  t.teardown(() => bus.close())
  const log = handledLog(app)
  // Teardowns run in the order they were added: the app and its bus stop before the proxies go.
  t.teardown(async () => {
    await Promise.all([kafka.close(), redisProxy.close(), mongoProxy.close()])
    await cleanupReal(names)
  })

  const post = (channelId: string, content: string) =>
    app.inject({ method: 'POST', url: '/api/messages', payload: { channelId, content, senderId: 'u1' } })
  const postOk = async (t: Test, channelId: string, content: string) => {
    const res = await post(channelId, content)
    t.equal(res.statusCode, 201, `posted ${content}`)
    return res.json()
  }
  const ready = async () => (await app.inject({ url: '/ready' })).json()

  t.test('Kafka down: POST answers 503 and nothing is stored; it all works again once Kafka is back', async (t) => {
    const channel = unique('k')
    const client = await Client.connect(`ws://127.0.0.1:${app.fanout.uwsPort}/ws`)
    t.teardown(() => client.close())
    await client.subscribe(channel)

    await kafka.cut()
    const refused = await post(channel, 'lost')
    t.equal(refused.statusCode, 503, 'the write is refused, not left hanging')
    t.match(refused.json(), { statusCode: 503, error: 'Service Unavailable', message: /event log unavailable \(kafka\)/ })
    t.match(await ready(), { status: 'unavailable', checks: { kafka: { ok: false }, redis: { ok: true }, mongo: { ok: true } } }, '/ready names Kafka')

    await kafka.restore()
    const kept = await postOk(t, channel, 'kept')
    // The consumers got through the outage: the store, the cache and the fanout all see the new message.
    await Promise.all([log.handled('messages-store', kept.position), log.handled('messages-cache', kept.position)])
    const event = await client.next((f) => f.op === 'event' && f.channel === channel)
    t.equal(event.data.id, kept.id, 'the subscriber got the message posted after the outage, and nothing before it')
    // One channel, one partition, handled in order: had the refused message been written, it would be here.
    t.same((await app.store.page(channel, { limit: 10 })).map((m) => m.content), ['kept'], 'the refused message was never stored')
    t.match(await ready(), { status: 'ready' })
  })

  t.test('Redis down: history is served from MongoDB (x-cache: miss), never a 5xx; the cache catches up', async (t) => {
    const channel = unique('r')
    const first = await postOk(t, channel, 'first')
    await Promise.all([log.handled('messages-store', first.position), log.handled('messages-cache', first.position)])
    await app.cache.fill(channel, await app.store.page(channel, { limit: 50 }), true) // as a history miss does
    const warm = await app.inject({ url: `/api/channels/${channel}/messages` })
    t.equal(warm.headers['x-cache'], 'hit', 'served from Redis while it is up')

    await redisProxy.cut()
    const second = await postOk(t, channel, 'second') // the log does not need Redis
    const cacheCaughtUp = log.handled('messages-cache', second.position) // waits while Redis is down
    await log.handled('messages-store', second.position)
    const res = await app.inject({ url: `/api/channels/${channel}/messages` })
    t.equal(res.statusCode, 200)
    t.equal(res.headers['x-cache'], 'miss', 'from the store')
    t.same(res.json().messages.map((m: any) => m.content), ['second', 'first'])
    t.match(await ready(), { status: 'unavailable', checks: { redis: { ok: false }, kafka: { ok: true }, mongo: { ok: true } } }, '/ready names Redis')

    await redisProxy.restore()
    await cacheCaughtUp
    const page = await app.cache.page(channel, { limit: 10 })
    t.same(page?.map((m) => m.content), ['second', 'first'], 'the cache handler retried until Redis was back')
  })

  t.test('MongoDB down: events wait in Kafka and are stored once it is back, none lost; the cache and the recovery log keep up meanwhile', async (t) => {
    const channel = unique('m')
    const client = await Client.connect(`ws://127.0.0.1:${app.fanout.uwsPort}/ws`)
    t.teardown(() => client.close())
    await client.subscribe(channel)
    const before = await postOk(t, channel, 'before')
    await Promise.all([log.handled('messages-store', before.position), log.handled('messages-cache', before.position)])
    t.equal((await app.inject({ url: `/api/channels/${channel}/messages` })).statusCode, 200, 'history read while MongoDB is up (the cache has the channel)')

    // The store handler's failures, and whether the driver got to give up selecting a server
    // (serverSelectionTimeoutMS, after the first socket errors): its errors then change shape.
    const apply = app.store.apply.bind(app.store)
    t.teardown(() => { app.store.apply = apply })
    let selectionGaveUp!: () => void
    const longOutage = new Promise<void>((resolve) => { selectionGaveUp = resolve })
    app.store.apply = async (changes) => apply(changes).catch((err) => {
      if ((err?.cause?.errorResponse ?? err?.errorResponse) instanceof MongoServerSelectionError) selectionGaveUp()
      throw err
    })
    const outcomes = new Map<string, string>()
    const onHandled = (h: HandledRecord) => { if (h.handler === 'messages-store') outcomes.set(h.offset, h.outcome) }
    app.topicHandlers.events.on('handled', onHandled)
    t.teardown(() => app.topicHandlers.events.off('handled', onHandled))

    await mongoProxy.cut()
    // Posting still works: the log takes the events, and the channel's last known state (read by the
    // first post) answers the access check while MongoDB is away.
    const sent: Message[] = []
    for (const content of ['one', 'two', 'three']) sent.push(await postOk(t, channel, content))
    const stored = Promise.all(sent.map((m) => log.handled('messages-store', m.position!)))
    await t.rejects(app.store.get(sent[0].id), { name: 'TransientError', message: /MongoDB/ }, 'the store names MongoDB')
    t.match(await ready(), { status: 'unavailable', checks: { mongo: { ok: false }, kafka: { ok: true }, redis: { ok: true } } }, '/ready names MongoDB')

    // The store's handler waits for MongoDB; the cache's and the recovery log's (Redis) do not wait for it.
    for (const m of sent) await Promise.all([log.handled('messages-cache', m.position!), log.handled('messages-recovery', m.position!)])
    for (const m of sent) t.equal((await client.next((f) => f.op === 'event' && f.data?.id === m.id)).data.content, m.content, `${m.content} delivered live`)
    const history = await app.inject({ url: `/api/channels/${channel}/messages` })
    t.equal(history.headers['x-cache'], 'hit')
    t.same(history.json().messages.map((m: Message) => m.content), ['three', 'two', 'one', 'before'], 'history from the cache has what was delivered live')
    const window = await app.recovery.log.read(channel)
    t.same(window?.events.slice(-3).map((e) => e.offset), sent.map((m) => m.position!.offset), 'the shared recovery log has it too')
    await t.rejects(app.store.get(sent[0].id), { name: 'TransientError' }, 'MongoDB was down all along')

    await longOutage // the store handler still waiting, not dead-lettering, once the driver gave up on the server
    await mongoProxy.restore()
    await stored
    t.same(sent.map((m) => outcomes.get(m.position!.offset)), ['ok', 'ok', 'ok'], 'each stored, none dead-lettered')
    t.same((await app.store.page(channel, { limit: 10 })).map((m) => m.content), ['three', 'two', 'one', 'before'], 'every event stored, in order')
    t.same(await app.store.get(sent[2].id), sent[2], 'as produced, with its position')
  })
}
