// The consume pipeline: one consumer per delivery mode, one parse and validation per record, batch
// handlers, a poison record dead-lettered alone, offsets advanced only once every handler is done,
// a handler that stops retrying once its consumer no longer owns the records, and a handler in a
// consumer group of its own, with its own backoff.
import t from 'tap'
import { Type } from '@sinclair/typebox'
import { build, handled } from '../helper.ts'
import { defineTopicHandler, type TopicEvent } from '../../plugins/topic-handlers.ts'
import { defineTopic } from '../../schemas/topics.ts'
import { TransientError } from '../../plugins/external/errors.ts'
import type { Position } from '../../schemas/message.ts'
import { createEmbeddedBus } from '../../plugins/bus/embedded.ts'
import type { ConsumerSpec } from '../../plugins/bus/bus.ts'

const Item = Type.Object({ n: Type.Integer() })
const itemsTopic = (name: string) => defineTopic({ name, key: 'any', schema: Item, positioned: false, clientEvents: [], description: 'test items' })

/** A promise with its resolve exposed. */
function gate () {
  let open!: () => void
  const promise = new Promise<void>((resolve) => { open = resolve })
  return { promise, open }
}

t.test('a record is parsed and validated once, whatever the number of handlers of its topic', async (t) => {
  const topic = itemsTopic('pipeline-once')
  const seen: Record<string, number[]> = { a: [], b: [], c: [] }
  const handlers = ['a', 'b', 'c'].map((name) => defineTopicHandler({
    name: `once-${name}`, topic, mode: 'shared', async handle (event) { seen[name].push(event.n) }
  }))
  const app = await build(t, {}, { handlers })
  const before = app.topicHandlers.stats.parsed
  const positions: Position[] = []
  for (let n = 0; n < 5; n++) positions.push(await app.events.produce('pipeline-once', 'k', { n }))
  for (const h of handlers) await handled(app, h.name, positions[4])
  t.same(seen, { a: [0, 1, 2, 3, 4], b: [0, 1, 2, 3, 4], c: [0, 1, 2, 3, 4] }, 'every handler saw every record, in order')
  t.equal(app.topicHandlers.stats.parsed - before, 5, 'five records parsed, not fifteen')
})

t.test('a batch handler gets the records that arrived together in one call, in partition order', async (t) => {
  const topic = itemsTopic('pipeline-batch')
  const hold = gate()
  const calls: number[][] = []
  const first = defineTopicHandler({
    name: 'batch-holder',
    topic,
    mode: 'shared',
    // holds the first batch, so the records produced meanwhile arrive together as the next one
    async handleBatch (events) { if (calls.length === 0) { calls.push(events.map((e) => e.event.n)); await hold.promise } else calls.push(events.map((e) => e.event.n)) }
  })
  const app = await build(t, {}, { handlers: [first] })
  await app.events.produce('pipeline-batch', 'k', { n: 0 })
  let last!: Position
  for (let n = 1; n <= 20; n++) last = await app.events.produce('pipeline-batch', 'k', { n })
  hold.open()
  await handled(app, 'batch-holder', last)
  t.same(calls[0], [0])
  t.same(calls.slice(1).flat(), Array.from({ length: 20 }, (_v, i) => i + 1), 'the rest, in order')
  t.ok(calls.length - 1 < 20, `in fewer calls than records (${calls.length - 1} for 20)`)
})

t.test('a poison record in a batch is dead-lettered alone; its neighbours are handled', async (t) => {
  const topic = itemsTopic('pipeline-poison')
  const hold = gate()
  const written: number[] = []
  let batchCalls = 0
  const store = defineTopicHandler({
    name: 'poison-store',
    topic,
    mode: 'shared',
    maxAttempts: 2,
    async handleBatch (events: Array<TopicEvent<{ n: number }>>) {
      if (batchCalls++ === 0) await hold.promise // the rest arrives as one batch behind this one
      if (events.some((e) => e.event.n === 13)) throw new Error('13 cannot be stored')
      written.push(...events.map((e) => e.event.n))
    }
  })
  const app = await build(t, {}, { handlers: [store] })
  await app.events.produce('pipeline-poison', 'k', { n: 0 })
  const positions = new Map<number, Position>()
  for (const n of [11, 12, 13, 14, 15]) positions.set(n, await app.events.produce('pipeline-poison', 'k', { n }))
  hold.open()
  t.equal((await handled(app, 'poison-store', positions.get(13)!)).outcome, 'dead-letter', 'the poison record')
  for (const n of [11, 12, 14, 15]) t.equal((await handled(app, 'poison-store', positions.get(n)!)).outcome, 'ok', `its neighbour ${n}`)
  t.same(written, [0, 11, 12, 14, 15], 'every neighbour written once, in order')
})

t.test('offsets move only once every handler of the record is done', async (t) => {
  const topic = itemsTopic('pipeline-commit')
  const slow = gate()
  const fast = defineTopicHandler({ name: 'commit-fast', topic, mode: 'shared', async handle () {} })
  const held = defineTopicHandler({ name: 'commit-slow', topic, mode: 'shared', async handle () { await slow.promise } })
  const app = await build(t, {}, { handlers: [fast, held] })
  const position = await app.events.produce('pipeline-commit', 'k', { n: 1 })
  await handled(app, 'commit-fast', position)
  const lag = async () => (await app.bus.lag!()).filter((l) => l.topic === 'pipeline-commit').reduce((sum, l) => sum + l.lag, 0)
  t.equal(await lag(), 1, 'one handler done: the record is still pending for the consumer')
  slow.open()
  await handled(app, 'commit-slow', position)
  // the offset moves right after the batch resolves: wait for the event loop to pass it
  await new Promise<void>((resolve) => setImmediate(resolve))
  t.equal(await lag(), 0, 'both done: committed')
})

t.test('a handler retrying a failure stops once its consumer no longer owns the record: no outcome, no attempt after', async (t) => {
  const topic = itemsTopic('pipeline-revoked')
  let attempts = 0
  let tried!: () => void
  const triedTwice = new Promise<void>((resolve) => { tried = resolve })
  const stuck = defineTopicHandler({
    name: 'revoked-stuck',
    topic,
    mode: 'shared',
    async handle () {
      if (++attempts === 2) tried()
      throw new TransientError('the store is down')
    }
  })
  const app = await build(t, {}, { handlers: [stuck] })
  const outcomes: string[] = []
  app.topicHandlers.events.on('handled', (h) => { if (h.handler === 'revoked-stuck') outcomes.push(h.outcome) })
  await app.events.produce('pipeline-revoked', 'k', { n: 1 })
  await triedTwice
  // Stopping the consumer takes the record away; close resolves only once the retry loop has
  // returned (the bus waits for its batch), so nothing can run after it.
  await app.close()
  const after = attempts
  t.ok(after >= 2 && after <= 3, `the retry in progress ended (${after} attempts)`)
  t.same(outcomes, [], 'neither handled nor dead-lettered: the record stays in the log for the next owner')
})

t.test('a handler in a group of its own holds only its own consumer: the other handlers of its topic go on', async (t) => {
  const topic = itemsTopic('pipeline-group')
  const stuck = gate()
  let entered!: () => void
  const inside = new Promise<void>((resolve) => { entered = resolve })
  const alone = defineTopicHandler({ name: 'group-stuck', topic, mode: 'shared', group: 'group-stuck', async handle () { entered(); await stuck.promise } })
  const beside = defineTopicHandler({ name: 'group-beside', topic, mode: 'shared', async handle () {} })
  const app = await build(t, {}, { handlers: [alone, beside] })
  let stuckDone = 0
  app.topicHandlers.events.on('handled', (h) => { if (h.handler === 'group-stuck') stuckDone++ })
  const first = await app.events.produce('pipeline-group', 'k', { n: 1 })
  await inside
  const second = await app.events.produce('pipeline-group', 'k', { n: 2 })
  await handled(app, 'group-beside', second)
  t.equal(stuckDone, 0, 'the grouped handler is still on the first record while the other is past the second')
  stuck.open()
  await handled(app, 'group-stuck', second)
  t.equal((await handled(app, 'group-stuck', first)).outcome, 'ok', 'and then handles both, in order')
})

t.test('a handler waits its own backoff between attempts, and close does not wait it out', async (t) => {
  const topic = itemsTopic('pipeline-backoff')
  let attempts = 0
  let failedTwice!: () => void
  const twice = new Promise<void>((resolve) => { failedTwice = resolve })
  const slowRetry = defineTopicHandler({
    name: 'backoff-hour',
    topic,
    mode: 'shared',
    backoffMs: [1, 3_600_000], // a quick second attempt, then an hour before the third
    async handle () {
      if (++attempts === 2) failedTwice()
      throw new Error('refused')
    }
  })
  const app = await build(t, {}, { handlers: [slowRetry] })
  await app.events.produce('pipeline-backoff', 'k', { n: 1 })
  await twice
  await app.close() // an hour's wait would time the test out
  t.equal(attempts, 2, 'no third attempt: close ended the wait')
})

t.test('a handler in a group of its own goes on while another handler of its topic waits (one service down holds back no other)', async (t) => {
  const topic = itemsTopic('pipeline-groups')
  const down = gate()
  const waiting = defineTopicHandler({ name: 'groups-store', topic, mode: 'shared', async handle () { await down.promise } })
  const going = defineTopicHandler({ name: 'groups-cache', topic, mode: 'shared', group: 'cache', async handle () {} })
  const app = await build(t, {}, { handlers: [waiting, going] })
  const positions: Position[] = []
  for (let n = 1; n <= 3; n++) positions.push(await app.events.produce('pipeline-groups', 'k', { n }))
  for (const p of positions) t.equal((await handled(app, 'groups-cache', p)).outcome, 'ok', `record ${p.offset} handled by the cache's group`)
  const lagOf = async (group: string) => (await app.bus.lag!()).filter((l) => l.topic === 'pipeline-groups' && l.group === group).reduce((sum, l) => sum + l.lag, 0)
  t.equal(await lagOf('shared'), 3, 'the waiting handler\'s group has handled none')
  down.open()
  for (const p of positions) await handled(app, 'groups-store', p)
  await new Promise<void>((resolve) => setImmediate(resolve))
  t.equal(await lagOf('shared'), 0, 'and catches up once its service is back')
  t.equal(await lagOf('shared.cache'), 0)
})

t.test('a group may ask for a longer consume linger: the read-state index asks for READ_STATE_LINGER_MS, the others the bus\'s', async (t) => {
  const bus = createEmbeddedBus({ topicPrefix: '', partitions: 1, instanceId: 'linger' })
  const specs: ConsumerSpec[] = []
  const consume = bus.consume.bind(bus)
  bus.consume = async (spec) => { specs.push(spec); return await consume(spec) }
  t.teardown(() => bus.close())
  await build(t, { READ_STATE_LINGER_MS: 1700 }, { bus })
  const byName = new Map(specs.map((s) => [s.name, s.lingerMs]))
  t.equal(byName.get('shared.messages.read-state'), 1700, 'the read-state index: its own linger')
  t.ok(specs.length > 3, `and ${specs.length} consumers in all`)
  t.same(specs.filter((s) => s.name !== 'shared.messages.read-state' && s.lingerMs !== undefined).map((s) => s.name), [], 'no other asks for one')
})
