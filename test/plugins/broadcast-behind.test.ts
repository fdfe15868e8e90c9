// A broadcast consumer behind the log's end fails /ready, naming it, and shows in /metrics until it
// catches up (issue 24, item 1): a broadcast handler is held while messages pile up, then released.
// On the embedded log and, when it answers, on Kafka.
import t, { type Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { build, handled } from '../helper.ts'
import { buildReal, cleanupReal, realNames, requireServices } from '../services.ts'
import { defineTopicHandler } from '../../plugins/topic-handlers.ts'
import { topics } from '../../schemas/topics.ts'
import type { Config } from '../../config.ts'
import type { Position } from '../../schemas/message.ts'

/** A broadcast handler of messages that holds every record until released. */
function held () {
  let release!: () => void
  const gate = new Promise<void>((resolve) => { release = resolve })
  const handler = defineTopicHandler({ name: 'held-delivery', topic: topics.messages, mode: 'broadcast', async handle () { await gate } })
  return { handler, release }
}

const behindMetric = (body: string) => body.match(/^switchboard_broadcast_behind\{consumer="broadcast\.messages"\} (\d)$/m)?.[1]

async function pileUp (t: Test, app: FastifyInstance, release: () => void) {
  const positions: Position[] = []
  for (let i = 0; i < 5; i++) {
    const res = await app.inject({ method: 'POST', url: '/api/messages', payload: { channelId: 'room', content: `m${i}`, senderId: 'alice' } })
    t.equal(res.statusCode, 201)
    positions.push(res.json().position)
  }
  // acknowledged (acks = all): the log's end holds all five, the held consumer none of them
  const ready = await app.inject('/ready')
  t.equal(ready.statusCode, 503, '/ready fails while the delivery path is behind')
  t.match(ready.json().checks.broadcast, { ok: false, error: /broadcast consumer broadcast\.messages is behind the log: [45] records to handle/ }, 'naming the consumer')
  t.equal(behindMetric((await app.inject('/metrics')).body), '1', 'switchboard_broadcast_behind shows it')

  release()
  // every message's partition is caught up once its last record is handled
  await Promise.all(positions.map((p) => handled(app, 'held-delivery', p)))
  const back = await app.inject('/ready')
  t.equal(back.statusCode, 200, 'ready again once caught up')
  t.equal(behindMetric((await app.inject('/metrics')).body), '0', 'and the metric says so')
}

const LIMITS: Partial<Config> = { BROADCAST_MAX_LAG: 3, BROADCAST_MAX_AGE_MS: 0 }

t.test('embedded log: behind by lag fails /ready until caught up', async (t) => {
  const { handler, release } = held()
  t.teardown(release)
  const app = await build(t, LIMITS, { handlers: [handler] })
  t.equal((await app.inject('/ready')).statusCode, 200, 'ready when nothing is pending')
  await pileUp(t, app, release)
})

t.test('Kafka: behind by lag fails /ready until caught up', async (t) => {
  if (!await requireServices(t, 'kafka', 'redis', 'mongo')) return
  const names = realNames('behind')
  t.teardown(() => cleanupReal(names))
  const { handler, release } = held()
  t.teardown(release)
  const app = await buildReal(t, { ...LIMITS, names, RATE_LIMIT_MAX: 0 }, { handlers: [handler] })
  await pileUp(t, app, release)
})

t.test('behind by age: records pending for BROADCAST_MAX_AGE_MS, measured from the read that first saw them', async (t) => {
  const app = await build(t, { BROADCAST_MAX_LAG: 0, BROADCAST_MAX_AGE_MS: 5000 })
  let now = 1_000_000
  t.capture(Date, 'now', () => now)
  const lag = (next: number, pending: number) => [{ group: 'g', consumer: 'broadcast.messages', mode: 'broadcast' as const, topic: 'messages', partition: 0, next, lag: pending }]
  const { assess } = app.broadcastBehind
  t.match(assess(lag(10, 2)), [{ consumer: 'broadcast.messages', pendingMs: 0, behind: false }], 'first seen pending: no age yet')
  now += 4999
  t.match(assess(lag(11, 5)), [{ pendingMs: 4999, behind: false }], 'a record pending since that read is at least this old')
  now += 1
  t.match(assess(lag(11, 5)), [{ pendingMs: 5000, behind: true }], 'behind at the limit')
  now += 1000
  t.match(assess(lag(12, 4)), [{ pendingMs: 0, behind: false }], 'what was pending then is handled: the records pending now are newer')
  t.match(assess(lag(16, 0)), [{ lag: 0, pendingMs: 0, behind: false }], 'caught up')
  t.same(assess([{ ...lag(0, 99)[0], mode: 'shared' }]), [], 'shared consumers are not the delivery path')
})
