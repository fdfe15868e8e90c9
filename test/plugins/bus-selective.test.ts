// A selective broadcast consumer (FANOUT_SELECTIVE, docs/scaling.md) on Kafka: it fetches nothing
// of a partition nobody asked it to read, reads one from the log's end as it is when `read` asks,
// every later record of it once and in order, and nothing more of it after `skip`. Another
// instance produces (no hand-off from this instance's producer), and a second instance reading
// everything says when the records were there to be fetched.
import t, { type Test } from 'tap'
import { createKafkaBus } from '../../plugins/bus/kafka/index.ts'
import { cleanupReal, requireService, services, testLogger, unique } from '../services.ts'
import type { BusRecord, Consumer, EventBus } from '../../plugins/bus/bus.ts'

const PARTITIONS = 4

if (await requireService(t, 'kafka')) {
  const prefix = `${unique('selective')}.`
  t.teardown(() => cleanupReal({ topicPrefix: prefix }))
  const make = (instanceId: string) => createKafkaBus({ brokers: services.kafka.split(','), clientId: 'switchboard-test', topicPrefix: prefix, partitions: PARTITIONS, instanceId, logger: testLogger() })

  /** A broadcast consumer that keeps what it got and says when it got a value. */
  async function reader (t: Test, bus: EventBus, topic: string, selective: boolean) {
    const got: BusRecord[] = []
    const waiting = new Map<string, () => void>()
    const consumer: Consumer = await bus.consume({
      name: selective ? 'selective' : 'everything',
      topic,
      mode: 'broadcast',
      selective,
      async handle (record) {
        got.push(record)
        waiting.get(record.value.toString())?.()
      }
    })
    t.teardown(() => consumer.stop())
    const reached = (value: string) => got.some((r) => r.value.toString() === value) ? Promise.resolve() : new Promise<void>((resolve) => { waiting.set(value, resolve) })
    return { consumer, got, reached }
  }

  async function setup (t: Test, topic: string) {
    const writer = make(unique('writer'))
    const bus = make(unique('fanout'))
    const control = make(unique('control'))
    t.teardown(async () => { await bus.close(); await control.close(); await writer.close() })
    await writer.ensureTopics([topic])
    // one key per partition, as the producer places them
    const keys: string[] = []
    for (let i = 0; keys.filter(Boolean).length < PARTITIONS; i++) {
      const p = await writer.partitionOf!(topic, `k${i}`)
      keys[p] ??= `k${i}`
    }
    const selective = await reader(t, bus, topic, true)
    const everything = await reader(t, control, topic, false)
    /** One record to every partition, named `${round}/${partition}`; resolves once the control reader has them all. */
    const round = async (name: string) => {
      for (let p = 0; p < PARTITIONS; p++) t.equal((await writer.produce(topic, keys[p], `${name}/${p}`)).partition, p, `${name}/${p} went to partition ${p}`)
      for (let p = 0; p < PARTITIONS; p++) await everything.reached(`${name}/${p}`)
    }
    return { bus, writer, keys, selective, everything, round }
  }

  t.test('a selective consumer fetches nothing until asked; then one partition, from its end, each record once and in order; nothing after skip', async (t) => {
    const topic = 't1'
    const { bus, writer, keys, selective, round } = await setup(t, topic)
    await round('before')
    t.same(selective.got, [], 'no partition read: nothing dispatched')
    t.same({ ...bus.broadcastTaken }, { fetch: 0, producer: 0 }, 'nothing fetched (a fetch of a paused partition would count as `paused`)')
    t.same((await bus.lag!('broadcast')).filter((l) => l.consumer === 'selective'), [], 'and no lag reported for what it does not read')

    const from = await selective.consumer.read!(topic, 1)
    t.equal(from.offset, '1', 'read from the end of the partition as it was: after the one record of round `before`')
    t.match(from.epoch, /\/1$/, 'in the epoch of partition 1')
    for (let i = 0; i < 3; i++) await round(`live${i}`)
    await selective.reached('live2/1')
    t.same(selective.got.map((r) => r.value.toString()), ['live0/1', 'live1/1', 'live2/1'], 'every later record of partition 1, once and in order; nothing of the others')
    t.same(selective.got.map((r) => r.offset), ['1', '2', '3'], 'at consecutive offsets from where it started')
    t.equal(bus.broadcastTaken!.fetch, 3, 'fetched those three only')
    t.same((await bus.lag!('broadcast')).filter((l) => l.consumer === 'selective').map((l) => l.partition), [1], 'lag reported for the partition it reads')
    t.same(await selective.consumer.read!(topic, 1), from, 'asked again: it reads it already, from the same place')

    selective.consumer.skip!(topic, 1)
    await round('paused')
    t.equal(selective.got.length, 3, 'nothing more of partition 1 once skipped')
    t.equal(bus.broadcastTaken!.fetch, 3, 'nothing more fetched')

    const again = await selective.consumer.read!(topic, 1)
    t.equal(again.offset, '5', 'read again from the end as it is now: what came while paused is not read')
    await writer.produce(topic, keys[1], 'back')
    await selective.reached('back')
    t.same(selective.got.map((r) => r.value.toString()), ['live0/1', 'live1/1', 'live2/1', 'back'], 'the records produced after it resumed, nothing of the pause')
  })
}
