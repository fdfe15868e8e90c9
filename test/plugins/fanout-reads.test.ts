// Which partitions a selective fanout asks its consumer to read (plugins/fanout-reads.ts): a
// partition is read from its first subscribe and skipped when its last socket leaves, by
// unsubscribe or by closing. The consumer is a stand-in that records what it is asked; the bus
// places channels starting with `a` in partition 0, the others in partition 1.
// test/e2e/fanout-selective-real.test.ts runs the whole on Kafka.
import t, { type Test } from 'tap'
import { build, connectAs } from '../helper.ts'
import { createEmbeddedBus } from '../../plugins/bus/embedded.ts'
import type { Consumer } from '../../plugins/bus/bus.ts'

async function setup (t: Test) {
  const bus = Object.assign(createEmbeddedBus({ topicPrefix: '', partitions: 2, instanceId: 'reads' }), {
    selective: true,
    partitionOf: async (_topic: string, key: string) => key.startsWith('a') ? 0 : 1
  })
  const app = await build(t, { FANOUT_SELECTIVE: true }, { bus })
  const asked: string[] = []
  const consumer: Consumer = {
    async stop () {},
    async read (topic, partition) { asked.push(`read ${topic}/${partition}`); return { epoch: `e${partition}`, offset: '10' } },
    skip (topic, partition) { asked.push(`skip ${topic}/${partition}`) }
  }
  app.fanoutReads.attach(consumer)
  return { app, asked }
}

t.test('a partition is read from its first subscribe until its last socket leaves', async (t) => {
  const { app, asked } = await setup(t)
  t.equal(app.fanoutReads.selective, true)
  const one = await connectAs(app, t)
  const two = await connectAs(app, t)
  t.same(await one.client.subscribe('a1'), { op: 'subscribed', channel: 'a1', position: { epoch: 'e0', offset: '9' }, recovered: false }, 'standing just before where the partition is read from')
  await two.client.subscribe('a2')
  t.same(asked, ['read messages/0', 'read messages/0'], 'each subscribe makes sure its partition is read')
  t.equal(app.fanoutReads.stats.reading, 1, 'one partition read, for both sockets')

  one.client.send({ op: 'unsubscribe', channel: 'a1' })
  await one.client.subscribe('status:nobody') // handled after the unsubscribe (one socket, in order)
  t.same(asked, ['read messages/0', 'read messages/0'], 'the other socket still needs it: read on; a status channel holds nothing')

  const gone = new Promise<void>((resolve) => app.fanout.hub.addHook('onDisconnect', async () => { resolve() }, 'test'))
  await two.client.close()
  await gone
  t.same(asked, ['read messages/0', 'read messages/0', 'skip messages/0'], 'its last socket closed: skipped')
  t.equal(app.fanoutReads.stats.reading, 0)
  t.same({ resumed: app.fanoutReads.stats.resumed, paused: app.fanoutReads.stats.paused }, { resumed: 1, paused: 1 })

  await one.client.subscribe('a3')
  one.client.send({ op: 'unsubscribe', channel: 'a3' })
  await one.client.subscribe('status:again')
  t.same(asked.slice(3), ['read messages/0', 'skip messages/0'], 'read again, and skipped at the unsubscribe of its last socket')
})

t.test("an identified connection's personal channel holds its partition (the server API may post there)", async (t) => {
  const { app, asked } = await setup(t)
  const { client } = await connectAs(app, t, 'bob')
  await client.next((f) => f.op === 'subscribed' && f.channel === 'user:bob')
  t.same(asked, ['read messages/1'])
})

t.test('without FANOUT_SELECTIVE nothing is asked, and the embedded bus ignores it', async (t) => {
  const off = await build(t, {})
  t.equal(off.fanoutReads.selective, false)
  const on = await build(t, { FANOUT_SELECTIVE: true })
  t.equal(on.fanoutReads.selective, false, 'the embedded bus reads every partition')
})
