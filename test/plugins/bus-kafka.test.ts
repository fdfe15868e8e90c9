import t from 'tap'
import { pino } from 'pino'
import { createKafkaBus, topicConfig } from '../../plugins/bus/kafka.ts'
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
  t.same(topicConfig(3), [{ name: 'min.insync.replicas', value: '2' }])
  t.same(topicConfig(1), [])
  t.same(topicConfig(2), [], 'two copies: requiring both would stop writes when one broker is down')
})
