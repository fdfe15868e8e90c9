// A consumer that kafkajs restarts after a crash (the broker gone, then back) rejoins its group as
// the member it was (kafkajs-patches.ts). As a new member it would wait, fetching nothing, until the
// coordinator gave up on the old one (the session timeout): the live-delivery stall after a Kafka
// restart. Here the broker "goes away" through a proxy the test cuts.
import t from 'tap'
import { EventEmitter, once } from 'node:events'
import { Kafka, logLevel } from 'kafkajs'
import '../../plugins/bus/kafkajs-patches.ts'
import { KafkaProxy } from '../proxy.ts'
import { requireService, services, unique } from '../services.ts'

t.test('a consumer restarted after a crash rejoins as the same member, and consumes again', async (t) => {
  if (!await requireService(t, 'kafka')) return
  const brokers = services.kafka.split(',')
  const topic = unique('rejoin')
  const direct = new Kafka({ clientId: 'rejoin-test', brokers, logLevel: logLevel.NOTHING })
  const admin = direct.admin()
  await admin.connect()
  t.teardown(async () => { await admin.deleteTopics({ topics: [topic] }).catch(() => {}); await admin.disconnect() })
  await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true })
  const producer = direct.producer()
  await producer.connect()
  t.teardown(() => producer.disconnect())

  const proxy = await KafkaProxy.start(brokers)
  t.teardown(() => proxy.close())
  // Few, short retries: the consumer crashes well within its session (30 s), so the coordinator
  // still knows its member when it comes back (past the session it would rightly join anew).
  const retry = { retries: 1, initialRetryTime: 100, maxRetryTime: 200 }
  const consumer = new Kafka({ clientId: 'rejoin-test', brokers, socketFactory: proxy.socketFactory, connectionTimeout: 500, retry, logLevel: logLevel.NOTHING })
    .consumer({ groupId: topic, sessionTimeout: 30_000, heartbeatInterval: 500, retry })
  t.teardown(() => consumer.disconnect())
  const joins: string[] = []
  const joined = () => new Promise<string>((resolve) => {
    const off = consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => { off(); joins.push(payload.memberId); resolve(payload.memberId) })
  })
  const received: string[] = []
  const arrivals = new EventEmitter()
  const first = joined()
  await consumer.connect()
  await consumer.subscribe({ topics: [topic], fromBeginning: true })
  await consumer.run({ eachMessage: async ({ message }) => { received.push(String(message.value)); arrivals.emit('message') } })
  const member = await first

  // the broker goes away: the consumer crashes and kafkajs schedules its restart
  const crashed = new Promise<boolean>((resolve) => { consumer.on(consumer.events.CRASH, ({ payload }) => resolve(payload.restart)) })
  const rejoined = joined()
  await proxy.cut()
  t.equal(await crashed, true, 'the consumer crashed, to be restarted')
  await proxy.restore()
  t.equal(await rejoined, member, 'the restarted consumer rejoined as the member it was', { joins })

  await producer.send({ topic, messages: [{ value: 'after the restart' }] })
  while (!received.includes('after the restart')) await once(arrivals, 'message')
  t.pass('and consumes what is produced after it')
  t.same(joins, [member, member], 'two joins, one member')
})
