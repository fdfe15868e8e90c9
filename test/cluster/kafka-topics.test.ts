// On the three-broker cluster of `scripts/services.sh up --cluster` (the cluster step of .ci/run):
// topics switchboard creates have three replicas and min.insync.replicas=2; an existing weaker
// topic is brought to the target or refused with what to do; a topic the cluster lost is created
// again (this cluster creates no topic by itself, as production clusters are set up).
import t from 'tap'
import { Kafka, logLevel } from 'kafkajs'
import { pino } from 'pino'
import { createKafkaBus, TopicMismatchError } from '../../plugins/bus/kafka/index.ts'
import { cleanupReal, services, testLogger, unique } from '../services.ts'
import { requireCluster } from './cluster.ts'

if (await requireCluster(t)) {
  const brokers = services.kafka.split(',')
  const prefix = `${unique('topics')}.`
  t.teardown(() => cleanupReal({ topicPrefix: prefix }))
  const admin = new Kafka({ clientId: 'cluster-test', brokers, logLevel: logLevel.NOTHING }).admin()
  await admin.connect()
  t.teardown(() => admin.disconnect())
  const bus = createKafkaBus({ brokers, clientId: 'cluster-test', topicPrefix: prefix, partitions: 3, instanceId: unique('i'), logger: testLogger() })
  t.teardown(() => bus.close())
  const minIsr = async (topic: string) => (await admin.describeConfigs({ includeSynonyms: false, resources: [{ type: 2 /* TOPIC */, name: topic }] }))
    .resources[0].configEntries.find((e) => e.configName === 'min.insync.replicas')?.configValue

  t.test('topics switchboard creates: three replicas per partition, two in sync for acks=all', async (t) => {
    await bus.ensureTopics(['messages'])
    const [topic] = (await admin.fetchTopicMetadata({ topics: [`${prefix}messages`] })).topics
    t.same(topic.partitions.map((p) => p.replicas.length), [3, 3, 3])
    t.equal(await minIsr(`${prefix}messages`), '2')
  })

  t.test('an existing topic with min.insync.replicas=1 is raised to 2', async (t) => {
    await admin.createTopics({ topics: [{ topic: `${prefix}loose`, numPartitions: 3, replicationFactor: 3, configEntries: [{ name: 'min.insync.replicas', value: '1' }] }], waitForLeaders: true })
    await bus.ensureTopics(['loose'])
    t.equal(await minIsr(`${prefix}loose`), '2')
  })

  t.test('an existing topic with two replicas stops start-up with the fix', async (t) => {
    await admin.createTopics({ topics: [{ topic: `${prefix}thin`, numPartitions: 3, replicationFactor: 2 }], waitForLeaders: true })
    await t.rejects(bus.ensureTopics(['thin']), TopicMismatchError)
    await t.rejects(bus.ensureTopics(['thin']), { message: /thin has 2 replica\(s\) per partition, this cluster's target is 3: .*kafka-reassign-partitions/ })
  })
  t.test('a topic the bus ensured that the cluster lost (wiped, or a new cluster at the address) is created again by the next produces, without a restart', async (t) => {
    const warnings: string[] = []
    const lost = createKafkaBus({ brokers, clientId: 'cluster-test', topicPrefix: prefix, partitions: 3, instanceId: unique('lost'), logger: pino({ level: 'warn' }, { write: (line: string) => { warnings.push(line) } }) })
    t.teardown(() => lost.close())
    const topic = unique('lost')
    await lost.ensureTopics([topic])
    await lost.produce(topic, 'k', 'before')
    await admin.deleteTopics({ topics: [`${prefix}${topic}`] })
    // deletion completes in the background: until the brokers no longer list it
    for (let i = 0; i < 100 && (await admin.listTopics()).includes(`${prefix}${topic}`); i++) await admin.fetchTopicMetadata({ topics: [] })
    t.notOk((await admin.listTopics()).includes(`${prefix}${topic}`), 'the topic is gone')
    const outcomes: string[] = []
    for (let i = 0; i < 10 && outcomes.at(-1) !== 'ok'; i++) {
      outcomes.push(await lost.produce(topic, 'k', `after ${i}`).then(() => 'ok', (err: Error) => err.message))
    }
    t.equal(outcomes.at(-1), 'ok', `a produce succeeds again (${outcomes.length} tried: ${outcomes.join('; ')})`)
    // the produces before it: refused as the log being unavailable (503), while the new topic's
    // leaders reach the producer's metadata (one or two of them)
    t.same(outcomes.slice(0, -1).filter((o) => !/unavailable: producing to/.test(o)), [], 'any produce before it answered as unavailable (503), nothing else')
    const [recreated] = (await admin.fetchTopicMetadata({ topics: [`${prefix}${topic}`] })).topics
    t.same(recreated.partitions.map((p) => p.replicas.length), [3, 3, 3], 'created again as the bus creates its topics')
    t.ok(warnings.some((w) => w.includes('creating them again')), 'and said so in the log')
  })
}
