// The broadcast lane alone: which records it takes from the fetch and from the producer, and in
// what order it dispatches them (test/plugins/bus-kafka.test.ts runs it on a real broker).
import t from 'tap'
import { BroadcastLane, type BroadcastTaken } from '../../plugins/bus/broadcast-lane.ts'
import type { BatchControl, BusRecord } from '../../plugins/bus/bus.ts'

const KEY = 'messages/0'
const record = (offset: number, epoch = 'c1/messages/0'): BusRecord => ({ topic: 'messages', partition: 0, offset: String(offset), epoch, key: 'k', value: Buffer.from(String(offset)), timestamp: 0 })
const records = (from: number, to: number, epoch?: string) => Array.from({ length: to - from + 1 }, (_, i) => record(from + i, epoch))
const control: BatchControl = { revoked: false, heartbeat: async () => {} }

function lane (dispatch: (records: BusRecord[]) => Promise<void> = async () => {}) {
  const dispatched: string[] = []
  const done: string[] = []
  const failures: unknown[] = []
  let reported!: () => void
  const failure = new Promise<void>((resolve) => { reported = resolve })
  const taken: BroadcastTaken = { fetch: 0, producer: 0 }
  const it = new BroadcastLane({
    dispatch: async (rs) => { await dispatch(rs); dispatched.push(...rs.map((r) => r.offset)) },
    producerControl: control,
    taken,
    done: (key, next) => done.push(`${key}@${next}`),
    failed: (err) => { failures.push(err); reported() }
  })
  return { it, dispatched, done, failures, failure, taken }
}

t.test('nothing is taken from the producer before the consumer has started on the partition', async (t) => {
  const { it, dispatched, taken } = lane()
  t.notOk(it.offer(KEY, records(5, 6)), 'refused: where the consumer reads is not known')
  it.start(KEY, 'c1/messages/0', '5')
  t.ok(it.offer(KEY, records(5, 6)), 'taken once the consumer starts at 5')
  await it.fetched(KEY, records(5, 7), control)
  t.same(dispatched, ['5', '6', '7'], 'the fetch brings only what the producer did not')
  t.same(taken, { fetch: 1, producer: 2 })
})

t.test('a fetched batch waits for the dispatch in progress: offset order holds', async (t) => {
  let release!: () => void
  const held = new Promise<void>((resolve) => { release = resolve })
  const { it, dispatched, done } = lane(async (rs) => { if (rs[0].offset === '0') await held })
  it.start(KEY, 'c1/messages/0', '0')
  t.ok(it.offer(KEY, records(0, 1)))
  const fetched = it.fetched(KEY, records(0, 3), control)
  t.same(dispatched, [], 'the producer\'s records are still being handled')
  release()
  await fetched
  t.same(dispatched, ['0', '1', '2', '3'])
  t.same(done, [`${KEY}@2`, `${KEY}@4`], 'each dispatch reports where the partition stands after it')
})

t.test('a restart at an earlier offset takes nothing twice; records of a new epoch start over', async (t) => {
  const { it, dispatched } = lane()
  it.start(KEY, 'c1/messages/0', '10')
  await it.fetched(KEY, records(10, 12), control)
  it.start(KEY, 'c1/messages/0', '11') // kafkajs restarted the consumer at what it had handled before
  await it.fetched(KEY, records(11, 13), control)
  t.same(dispatched, ['10', '11', '12', '13'], 'no duplicate after the restart')
  t.equal(it.firstOffset('c1/messages/0'), '10', 'the partition is dispatched from where the lane first read it, restarts or not')
  t.equal(it.firstOffset('c2/messages/0'), undefined, 'an epoch it never started on')
  // the cluster was re-created: its offsets start again at 0, and mean nothing of the old ones
  t.notOk(it.offer(KEY, records(0, 0, 'c2/messages/0')), 'another epoch\'s record is left to the fetch')
  await it.fetched(KEY, records(0, 1, 'c2/messages/0'), control)
  t.same(dispatched.slice(4), ['0', '1'], 'the new epoch\'s records are all dispatched')
})

t.test('a dispatch that fails lets the fetch take its records again; a producer\'s failure is reported', async (t) => {
  let failing = true
  const { it, dispatched, failures, failure } = lane(async () => { if (failing) throw new Error('stopping') })
  it.start(KEY, 'c1/messages/0', '0')
  await t.rejects(it.fetched(KEY, records(0, 1), control), /stopping/)
  t.ok(it.offer(KEY, records(0, 0)), 'the failed records are the next to take again')
  await failure
  t.equal(failures.length, 1, 'the producer\'s dispatch failure is reported, not thrown')
  failing = false
  await it.fetched(KEY, records(0, 1), control)
  t.same(dispatched, ['0', '1'])
})

t.test('a paused partition takes nothing, proves nothing; resumed, it takes from where it resumed, once', async (t) => {
  let reached!: () => void
  const last = new Promise<void>((resolve) => { reached = resolve })
  const handed: string[] = [] // what reached the handlers, as they got it
  const { it, dispatched, taken } = lane(async (rs) => { handed.push(...rs.map((r) => r.offset)); if (rs.some((r) => r.offset === '14')) reached() })
  it.start(KEY, 'c1/messages/0', '5')
  t.equal(it.firstOffset('c1/messages/0'), '5', 'read from 5')
  await it.fetched(KEY, records(5, 6), control)
  it.pause(KEY, 'c1/messages/0')
  t.notOk(it.reads(KEY))
  t.equal(it.firstOffset('c1/messages/0'), undefined, 'paused: no offset from which everything is dispatched')
  t.notOk(it.offer(KEY, records(7, 7)), 'the producer\'s next record is refused while paused')
  await it.fetched(KEY, records(7, 8), control)
  t.same(dispatched, ['5', '6'], 'a fetch in flight when it paused is dropped')
  t.same(taken, { fetch: 2, producer: 0, paused: 2 }, 'and counted as such')
  it.resume(KEY, 'c1/messages/0', '12')
  t.ok(it.reads(KEY))
  t.equal(it.firstOffset('c1/messages/0'), '12', 'everything from the resume on is dispatched')
  await it.fetched(KEY, records(9, 13), control)
  t.same(dispatched, ['5', '6', '12', '13'], 'nothing before the resume')
  t.ok(it.offer(KEY, records(14, 14)), 'the producer\'s record next after it is taken')
  await last
  t.same(handed, ['5', '6', '12', '13', '14'])
})

t.test('a partition paused before its first read proves nothing until resumed', async (t) => {
  const { it } = lane()
  it.pause(KEY, undefined)
  it.start(KEY, 'c1/messages/0', '5') // a join seeks every partition, the paused ones too
  t.equal(it.firstOffset('c1/messages/0'), undefined, 'never read: nothing to stand on')
  t.notOk(it.offer(KEY, records(5, 5)))
})
