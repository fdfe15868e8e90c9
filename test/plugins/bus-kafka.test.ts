import t, { type Test } from 'tap'
import { pino } from 'pino'
import net from 'node:net'
import { Kafka, logLevel, type ISocketFactory } from 'kafkajs'
import { checkTopics } from '../../plugins/bus/kafka/topic-check.ts'
import { TopicMismatchError, createKafkaBus, mismatches, topicConfig, topicTarget } from '../../plugins/bus/kafka/index.ts'
import { createAdmin } from '../../plugins/bus/kafka/admin.ts'
import { topicNames } from '../../plugins/bus/kafka/client.ts'
import { busContract } from '../contracts/bus.ts'
import { KafkaProxy } from '../proxy.ts'
import { cleanupReal, requireService, services, testLogger, unique } from '../services.ts'
import type { BusRecord } from '../../plugins/bus/bus.ts'

if (await requireService(t, 'kafka')) {
  // One prefix for the file: the contract's instances 'a' and 'b' share the cluster, as two
  // app instances would; every test inside also takes its own topic and group names.
  const prefix = `${unique('bus')}.`
  t.teardown(() => cleanupReal({ topicPrefix: prefix }))
  let n = 0
  const make = (instanceId: string) => createKafkaBus({
    brokers: services.kafka.split(','),
    clientId: 'switchboard-test',
    topicPrefix: prefix,
    partitions: 3,
    instanceId,
    logger: testLogger()
  })
  busContract(t, async ({ instanceId }) => make(instanceId), () => `t${++n}`)

  t.test('after close, nothing connects again: a late join asking for the cluster\'s identity is refused, no socket left open', async (t) => {
    const admin = createAdmin(new Kafka({ clientId: 'switchboard-test', brokers: services.kafka.split(','), logLevel: logLevel.NOTHING }), { logger: testLogger(), names: topicNames(prefix), partitions: 1, closed: () => true })
    t.ok(await admin.clusterId(), 'asked while open')
    await admin.close()
    admin.forgetCluster() // as a join does
    await t.rejects(admin.clusterId(), /the Kafka admin client is closed/, 'a consumer joining after the bus closed gets no fresh client')
    await t.rejects(admin.get(), /the Kafka admin client is closed/)
  })

  t.test('an existing topic with another partition count stops start-up, unchanged; min.insync.replicas is raised, other overrides kept', async (t) => {
    const admin = new Kafka({ clientId: 'switchboard-test', brokers: services.kafka.split(','), logLevel: logLevel.NOTHING }).admin()
    await admin.connect()
    t.teardown(() => admin.disconnect())
    await admin.createTopics({ topics: [{ topic: `${prefix}narrow`, numPartitions: 2 }, { topic: `${prefix}weak`, numPartitions: 1, configEntries: [{ name: 'retention.ms', value: '12345678' }] }], waitForLeaders: true })
    const bus = make(unique('check'))
    t.teardown(() => bus.close())
    await t.rejects(bus.ensureTopics(['narrow']), TopicMismatchError, 'refused, not a passing outage')
    await t.rejects(bus.ensureTopics(['narrow']), { message: new RegExp(`topic ${prefix.replace('.', '\\.')}narrow has 2 partitions, KAFKA_PARTITIONS is 3`) })
    const [narrow] = (await admin.fetchTopicMetadata({ topics: [`${prefix}narrow`] })).topics
    t.equal(narrow.partitions.length, 2, 'the topic is left as it was')

    const overrides = async () => Object.fromEntries((await admin.describeConfigs({ includeSynonyms: false, resources: [{ type: 2 /* TOPIC */, name: `${prefix}weak` }] }))
      .resources[0].configEntries.filter((e) => ['min.insync.replicas', 'retention.ms'].includes(e.configName)).map((e) => [e.configName, e.configValue]))
    t.same(await overrides(), { 'min.insync.replicas': '1', 'retention.ms': '12345678' })
    // a target of two in sync, as on a three-broker cluster (this one has one broker)
    await checkTopics(admin, [`${prefix}weak`], { partitions: 1, replicationFactor: 1, minInsyncReplicas: 2 }, testLogger())
    t.same(await overrides(), { 'min.insync.replicas': '2', 'retention.ms': '12345678' }, 'brought to the target, the other override kept')
  })

  t.test('a broadcast consumer restarted after a crash resumes where it was, also before it committed anything: no gap', async (t) => {
    const proxy = await KafkaProxy.start(services.kafka.split(','))
    // the bus says when kafkajs gave up on the consumer and restarts it: that is the moment to wait for
    let crashed!: () => void
    const restarting = new Promise<void>((resolve) => { crashed = resolve })
    const logger = pino({ level: 'error' }, { write (line: string) { if (line.includes('Kafka consumer crashed; restarting')) crashed() } })
    const cut = createKafkaBus({ brokers: services.kafka.split(','), clientId: 'switchboard-test', topicPrefix: prefix, partitions: 3, instanceId: unique('r'), logger, socketFactory: proxy.socketFactory })
    const producer = make('producer')
    t.teardown(async () => { await cut.close(); await producer.close(); await proxy.close() })
    await producer.ensureTopics(['restarts'])
    const seen: string[] = []
    let sawAfter!: () => void
    const after = new Promise<void>((resolve) => { sawAfter = resolve })
    await cut.consume({
      name: unique('g'),
      topic: 'restarts',
      mode: 'broadcast',
      handle: async (r) => { seen.push(r.value.toString()); if (r.value.toString() === 'after') sawAfter() }
    })
    // The consumer loses the broker (kafkajs crashes and restarts it) before it handled (or
    // committed) anything, while records keep coming: a restart "at the latest offset" skips them.
    await proxy.cut()
    for (const v of ['during 1', 'during 2']) await producer.produce('restarts', 'k', v)
    await restarting
    await proxy.restore()
    await producer.produce('restarts', 'k', 'after')
    await after
    t.same(seen, ['during 1', 'during 2', 'after'], 'every record once, in order, across the restart')
  })

  /**
   * Two instances on a fresh topic: `bus` with a broadcast consumer whose handler holds the record
   * 'hold', which `other` produced, until `release`. While it holds, the consumer fetches nothing
   * more of that partition, so what reaches the handler meanwhile came from `bus`'s producer. The
   * test waits for a record with `reached(value)`.
   */
  async function heldBroadcast (t: Test, topic: string) {
    const bus = make(unique('i'))
    const other = make(unique('other'))
    t.teardown(async () => { await bus.close(); await other.close() })
    await bus.ensureTopics([topic])
    const seen: string[] = []
    const waiting = new Map<string, () => void>()
    let release!: () => void
    const held = new Promise<void>((resolve) => { release = resolve })
    await bus.consume({
      name: unique('g'),
      topic,
      mode: 'broadcast',
      handle: async (r) => {
        const value = r.value.toString()
        seen.push(value)
        waiting.get(value)?.()
        if (value === 'hold') await held
      }
    })
    const reached = (value: string) => seen.includes(value) ? Promise.resolve() : new Promise<void>((resolve) => { waiting.set(value, resolve) })
    await other.produce(topic, 'k', 'hold')
    await reached('hold')
    return { bus, other, seen, release, reached }
  }

  t.test("an instance's broadcast consumers get what its producer appended at the log's acknowledgement, once and in order", async (t) => {
    const { bus, seen, release, reached } = await heldBroadcast(t, 'handover')
    const before = bus.broadcastTaken!.producer
    for (const v of ['1', '2', '3']) await bus.produce('handover', 'k', v)
    t.equal(bus.broadcastTaken!.producer - before, 3, 'the three were taken from the producer: the consumer had not fetched them')
    release()
    await reached('3')
    await bus.produce('handover', 'k', 'last') // after the fetch of 1–3 (skipped): nothing comes twice
    await reached('last')
    t.same(seen, ['hold', '1', '2', '3', 'last'], 'every record once, in offset order')
  })

  t.test("a record another instance appended in between leaves this instance's own to the fetch: order holds", async (t) => {
    const { bus, other, seen, release, reached } = await heldBroadcast(t, 'between')
    await other.produce('between', 'k', 'theirs') // not fetched yet: the partition is held
    const before = bus.broadcastTaken!.producer
    await bus.produce('between', 'k', 'mine')
    t.equal(bus.broadcastTaken!.producer, before, 'not taken from the producer: a record before it was not dispatched yet')
    release()
    await reached('mine')
    t.same(seen, ['hold', 'theirs', 'mine'], 'in offset order, each once')
  })

  t.test('epochs name the cluster, topic and partition; records carry the logical topic', async (t) => {
    const bus = make('a')
    t.teardown(() => bus.close())
    await bus.ensureTopics(['epochs'])
    const p = await bus.produce('epochs', 'k', 'v')
    t.equal(p.topic, 'epochs')
    t.match(p.epoch, new RegExp(`^[^/]+/${prefix.replace(/\./g, '\\.')}epochs/${p.partition}$`))
  })

  t.test('lag counts what a group has not handled yet', async (t) => {
    const bus = make('a')
    t.teardown(() => bus.close())
    await bus.ensureTopics(['lagging'])
    for (let i = 0; i < 3; i++) await bus.produce('lagging', 'k', String(i))
    let release!: () => void
    const held = new Promise<void>((resolve) => { release = resolve })
    let first!: () => void
    const started = new Promise<void>((resolve) => { first = resolve })
    const consumer = await bus.consume({ name: 'laggards', topic: 'lagging', mode: 'shared', handle: async () => { first(); await held } })
    await started // the group holds the first record and has committed nothing
    const lag = (await bus.lag!()).filter((l) => l.group === `${prefix}laggards`)
    t.equal(lag.length, 3, 'one entry per partition')
    t.equal(lag.reduce((sum, l) => sum + l.lag, 0), 3, 'all three records still ahead of the group')
    t.ok(lag.every((l) => l.topic === 'lagging'), 'logical topic names')
    release()
    await consumer.stop()
  })

  t.test('a partition the broker refuses fails its own produces only: the records it appended in the same request are answered, once', async (t) => {
    const bus = make('a')
    const kafka = new Kafka({ brokers: services.kafka.split(','), clientId: 'switchboard-test', logLevel: logLevel.NOTHING })
    const admin = kafka.admin()
    await admin.connect()
    t.teardown(async () => { await bus.close(); await admin.disconnect() })
    // `strict` takes no record batch over 2 KB: a post to it fails at the broker, partition by partition
    await admin.createTopics({ topics: [{ topic: `${prefix}strict`, numPartitions: 3, configEntries: [{ name: 'max.message.bytes', value: '2048' }] }], waitForLeaders: true })
    await bus.ensureTopics(['strict', 'roomy'])
    // the same tick: one produce request carries all three
    const [a, big, b] = await Promise.allSettled([
      bus.produce('roomy', 'k1', 'small a'),
      bus.produce('strict', 'k', 'x'.repeat(10_000)),
      bus.produce('roomy', 'k2', 'small b')
    ])
    t.equal(big.status, 'rejected', 'the record over the limit is refused')
    t.match((big as PromiseRejectedResult).reason?.message, /producing to strict/, 'its error names the topic')
    t.equal(a.status, 'fulfilled', 'a record appended in the same request is answered with its position')
    t.equal(b.status, 'fulfilled', 'and so is the other')
    // Once in the log each: had the refused request failed every post, their retries would append them again.
    const ends = await admin.fetchTopicOffsets(`${prefix}roomy`)
    t.equal(ends.reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0), 2, 'the log holds the two records, once each')
    const seen = new Map<string, string>()
    let all!: () => void
    const done = new Promise<void>((resolve) => { all = resolve })
    const consumer = await bus.consume({ name: 'refused', topic: 'roomy', mode: 'shared', handle: async (r) => { seen.set(`${r.partition}/${r.offset}`, r.value.toString()); if (seen.size === 2) all() } })
    await done
    await consumer.stop()
    for (const [settled, value] of [[a, 'small a'], [b, 'small b']] as const) {
      const p = (settled as PromiseFulfilledResult<{ partition: number, offset: string }>).value
      t.equal(seen.get(`${p.partition}/${p.offset}`), value, `the position answered for "${value}" holds it`)
    }
  })

  t.test('prepare gets the producer ready at start-up: the first produce after it is a Produce request alone', async (t) => {
    // Every request the bus writes, by Kafka API key (a request starts with its int32 size, then its int16 key).
    const API = { 0: 'Produce', 3: 'Metadata', 22: 'InitProducerId' } as Record<number, string>
    const sent: string[] = []
    const socketFactory: ISocketFactory = ({ host, port, onConnect }) => {
      const socket = net.connect({ host, port }, onConnect)
      const write = socket.write.bind(socket) as (chunk: Buffer, ...rest: unknown[]) => boolean
      socket.write = ((chunk: Buffer, ...rest: unknown[]) => {
        if (Buffer.isBuffer(chunk) && chunk.length >= 6) { const key = chunk.readInt16BE(4); sent.push(API[key] ?? `api ${key}`) }
        return write(chunk, ...rest)
      }) as typeof socket.write
      return socket
    }
    const create = () => createKafkaBus({ brokers: services.kafka.split(','), clientId: 'switchboard-test', topicPrefix: prefix, partitions: 3, instanceId: unique('p'), logger: testLogger(), socketFactory })
    const cold = create()
    t.teardown(() => cold.close())
    await cold.ensureTopics(['prepared'])
    sent.length = 0
    await cold.produce('prepared', 'k', 'first, unprepared')
    t.ok(sent.includes('InitProducerId') && sent.includes('Metadata'), `without prepare the first produce sets the producer up first (${sent.join(', ')})`)

    const warm = create()
    t.teardown(() => warm.close())
    await warm.prepare!(['prepared'])
    sent.length = 0
    await warm.produce('prepared', 'k', 'first, prepared')
    t.same(sent, ['Produce'], 'after prepare it is one Produce request, nothing before it')
  })

  t.test('concurrent produces (sent in shared requests): each answered position holds that very record', async (t) => {
    const bus = make('a')
    t.teardown(() => bus.close())
    await bus.ensureTopics(['concurrent'])
    const sent = await Promise.all(Array.from({ length: 120 }, (_, i) =>
      bus.produce('concurrent', `k${i % 7}`, `v${i}`).then((p) => ({ ...p, key: `k${i % 7}`, value: `v${i}` }))))
    const seen = new Map<string, BusRecord>()
    let all!: () => void
    const done = new Promise<void>((resolve) => { all = resolve })
    const consumer = await bus.consume({ name: 'concurrent', topic: 'concurrent', mode: 'shared', handle: async (r) => { seen.set(`${r.partition}/${r.offset}`, r); if (seen.size === sent.length) all() } })
    await done
    await consumer.stop()
    const wrong = sent.filter((p) => { const r = seen.get(`${p.partition}/${p.offset}`); return r?.key !== p.key || r.value.toString() !== p.value })
    t.same(wrong, [], 'no position names another record')
    for (let k = 0; k < 7; k++) {
      const offsets = sent.filter((p) => p.key === `k${k}`).map((p) => BigInt(p.offset))
      t.ok(offsets.every((o, i) => i === 0 || o > offsets[i - 1]), `k${k}: offsets grow in call order`)
    }
  })
}

t.test('durability: three replicas require two in sync for acks=all; a single-broker cluster keeps the default', async (t) => {
  t.same(topicTarget(3, 5), { partitions: 3, replicationFactor: 3, minInsyncReplicas: 2 }, 'three copies at most')
  t.same(topicConfig(topicTarget(3, 3)), [{ name: 'min.insync.replicas', value: '2' }])
  t.same(topicConfig(topicTarget(3, 1)), [])
  t.same(topicConfig(topicTarget(3, 2)), [], 'two copies: requiring both would stop writes when one broker is down')
})

t.test('an existing topic weaker than the target is named with what differs and how to fix it', async (t) => {
  const partition = (partitionId: number, replicas: number[]) => ({ partitionErrorCode: 0, partitionId, leader: replicas[0], replicas, isr: replicas })
  const target = topicTarget(3, 3)
  t.same(mismatches({ name: 'sb.messages', partitions: [0, 1, 2].map((p) => partition(p, [1, 2, 3])) }, target), [], 'as created: nothing to say')
  const [count] = mismatches({ name: 'sb.messages', partitions: [0, 1].map((p) => partition(p, [1, 2, 3])) }, target)
  t.match(count, /topic sb\.messages has 2 partitions, KAFKA_PARTITIONS is 3: .*never changes.*set KAFKA_PARTITIONS=2/)
  const [copies] = mismatches({ name: 'sb.messages', partitions: [0, 1, 2].map((p) => partition(p, p === 1 ? [1] : [1, 2, 3])) }, target)
  t.match(copies, /topic sb\.messages has 1 replica\(s\) per partition, this cluster's target is 3: .*reassign/, 'the weakest partition counts')
})
