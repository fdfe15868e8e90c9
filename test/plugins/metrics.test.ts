import { test } from 'tap'
import { Type } from '@sinclair/typebox'
import { build, Client, handled } from '../helper.ts'
import { createEmbeddedBus } from '../../plugins/bus/embedded.ts'
import { defineTopicHandler } from '../../plugins/topic-handlers.ts'
import { defineTopic } from '../../schemas/topics.ts'
import type { FastifyInstance } from 'fastify'

interface Sample { name: string, labels: Record<string, string>, value: number }

/** Parses the Prometheus text format (enough of it for these tests). */
function parse (text: string): Sample[] {
  return text.split('\n').filter((l) => l && !l.startsWith('#')).map((line) => {
    const m = /^(\w+)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (!m) throw new Error(`not a Prometheus sample line: ${line}`)
    const labels = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1], l[2]]))
    return { name: m[1], labels, value: Number(m[3]) }
  })
}

async function scrape (app: FastifyInstance) {
  const res = await app.inject('/metrics')
  if (res.statusCode !== 200) throw new Error(`/metrics answered ${res.statusCode}`)
  const samples = parse(res.body)
  const value = (name: string, labels: Record<string, string> = {}) =>
    samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value
  return { res, samples, value }
}

const post = (app: FastifyInstance, channelId: string, content: string) =>
  app.inject({ method: 'POST', url: '/api/messages', payload: { channelId, content, senderId: 'ada' } })

test('HTTP durations are labelled by route pattern, never by raw URL', async (t) => {
  const app = await build(t)
  const created = await post(app, 'general', 'hello')
  t.equal(created.statusCode, 201)
  await app.inject('/api/channels/general/messages')
  await app.inject('/api/channels/bad!/messages')
  await app.inject('/no/such/route/42')
  const { res, samples, value } = await scrape(app)
  t.match(res.headers['content-type'], /^text\/plain; version=0\.0\.4/)
  t.equal(value('switchboard_http_request_duration_seconds_count', { method: 'POST', route: '/api/messages', status_code: '201' }), 1)
  t.equal(value('switchboard_http_request_duration_seconds_count', { method: 'GET', route: '/api/channels/:channelId/messages', status_code: '200' }), 1)
  t.equal(value('switchboard_http_request_duration_seconds_count', { method: 'GET', route: '/api/channels/:channelId/messages', status_code: '400' }), 1)
  t.equal(value('switchboard_http_request_duration_seconds_count', { route: '(unmatched)', status_code: '404' }), 1)
  const routes = new Set(samples.filter((s) => s.labels.route).map((s) => s.labels.route))
  t.notOk([...routes].some((r) => r.includes('general') || r.includes('42')), `no raw URL among route labels: ${[...routes].join(', ')}`)
  t.ok(value('process_cpu_user_seconds_total') !== undefined, 'process default metrics are exported')
})

test('produced, handled and cache reads are counted; cache reads match the x-cache header', async (t) => {
  const app = await build(t)
  const created = await post(app, 'general', 'one')
  await handled(app, 'messages-cache', created.json().position)
  await handled(app, 'messages-store', created.json().position)
  const seen = { hit: 0, miss: 0 }
  for (let i = 0; i < 3; i++) {
    const res = await app.inject('/api/channels/general/messages')
    seen[res.headers['x-cache'] as 'hit' | 'miss']++
  }
  const { value } = await scrape(app)
  t.equal(value('switchboard_events_produced_total', { topic: 'messages', outcome: 'ok' }), 1)
  t.equal(value('switchboard_events_handled_total', { topic: 'messages', handler: 'messages-store', outcome: 'ok' }), 1)
  t.equal(value('switchboard_history_reads_total', { result: 'hit' }) ?? 0, seen.hit)
  t.equal(value('switchboard_history_reads_total', { result: 'miss' }) ?? 0, seen.miss)
})

test('every handler\'s counters exist from the start, at 0 (counted by the pipeline, read when scraped)', async (t) => {
  const app = await build(t)
  const { value } = await scrape(app)
  for (const handler of ['messages-store', 'messages-cache', 'messages-fanout']) {
    t.equal(value('switchboard_events_handled_total', { topic: 'messages', handler, outcome: 'ok' }), 0, `${handler}: ok`)
    t.equal(value('switchboard_events_handled_total', { topic: 'messages', handler, outcome: 'dead-letter' }), 0, `${handler}: dead-letter`)
    t.equal(value('switchboard_dead_letters_total', { topic: 'messages', handler }), 0, `${handler}: dead letters`)
  }
})

const numbers = (name: string) => defineTopic({ name, key: 'any', schema: Type.Object({ n: Type.Number() }), positioned: false, clientEvents: [], description: 'numbers' })

test('an event that fails its schema is counted as a dead letter', async (t) => {
  const strict = defineTopicHandler({ name: 'metrics-strict', topic: numbers('metrics-test'), mode: 'shared', async handle () {} })
  const app = await build(t, {}, { handlers: [strict] })
  // produced around the producer's validation, as a service writing straight to Kafka could
  const position = await app.bus.produce('metrics-test', 'k', JSON.stringify({ n: 'not a number' }))
  const outcome = await handled(app, 'metrics-strict', position)
  t.equal(outcome.outcome, 'dead-letter')
  const { value } = await scrape(app)
  t.equal(value('switchboard_dead_letters_total', { topic: 'metrics-test', handler: 'metrics-strict' }), 1)
  t.equal(value('switchboard_events_handled_total', { topic: 'metrics-test', handler: 'metrics-strict', outcome: 'dead-letter' }), 1)
})

test('consumer lag counts what a group has not handled yet, per partition', async (t) => {
  let entered!: () => void
  const inHandler = new Promise<void>((resolve) => { entered = resolve })
  let release!: () => void
  const released = new Promise<void>((resolve) => { release = resolve })
  const slow = defineTopicHandler({
    name: 'metrics-slow',
    topic: numbers('metrics-lag'),
    mode: 'shared',
    async handle () { entered(); await released }
  })
  const app = await build(t, {}, { handlers: [slow] })
  const first = await app.events.produce('metrics-lag', 'same-key', { n: 1 })
  const second = await app.events.produce('metrics-lag', 'same-key', { n: 2 })
  await inHandler
  const partition = String((await app.bus.lag!()).find((l) => l.group === 'shared' && l.topic === 'metrics-lag' && l.lag > 0)?.partition)
  const before = await scrape(app)
  t.equal(before.value('switchboard_consumer_lag', { group: 'shared', topic: 'metrics-lag', partition }), 2, 'the record in hand and the one behind it')
  t.equal(before.value('switchboard_consumer_lag_available'), 1)
  release()
  await handled(app, 'metrics-slow', first)
  await handled(app, 'metrics-slow', second)
  const after = await scrape(app)
  t.equal(after.value('switchboard_consumer_lag', { group: 'shared', topic: 'metrics-lag', partition }), 0)
})

test('a log that does not answer for lag never hangs /metrics', async (t) => {
  const bus = createEmbeddedBus({ topicPrefix: '', partitions: 1, instanceId: 'hang' })
  bus.lag = () => new Promise(() => {})
  t.teardown(() => bus.close())
  const app = await build(t, {}, { bus })
  const { value } = await scrape(app)
  t.equal(value('switchboard_consumer_lag_available'), 0)
  t.equal(value('switchboard_consumer_lag'), undefined, 'no stale lag samples')
})

test("broadcast records are counted by how they came, as the bus counts them (Kafka's bus: test/plugins/bus-kafka.test.ts)", async (t) => {
  const taken = { fetch: 3, producer: 7 }
  const bus = Object.assign(createEmbeddedBus({ topicPrefix: '', partitions: 1, instanceId: 'taken' }), { broadcastTaken: taken })
  t.teardown(() => bus.close())
  const app = await build(t, {}, { bus })
  const first = await scrape(app)
  t.equal(first.value('switchboard_broadcast_records_total', { via: 'fetch' }), 3)
  t.equal(first.value('switchboard_broadcast_records_total', { via: 'producer' }), 7)
  taken.producer++
  t.equal((await scrape(app)).value('switchboard_broadcast_records_total', { via: 'producer' }), 8, 'read at every scrape')
})

test('fanout connections and deliveries are read at scrape time', async (t) => {
  const app = await build(t)
  const client = await Client.connect(`ws://127.0.0.1:${app.fanout.uwsPort}/ws`)
  t.teardown(() => client.close())
  await client.next((f) => f.op === 'ready')
  t.equal((await client.subscribe('general')).op, 'subscribed')
  const open = await scrape(app)
  t.equal(open.value('switchboard_fanout_connections', { transport: 'uws' }), 1)
  t.equal(open.value('switchboard_fanout_connections', { transport: 'fastify' }), 0)
  t.equal(open.value('switchboard_fanout_deliveries_total'), 0)
  await post(app, 'general', 'to the socket')
  await client.next((f) => f.op === 'event')
  client.send('not json')
  await client.next((f) => f.op === 'error')
  const after = await scrape(app)
  t.equal(after.value('switchboard_fanout_deliveries_total'), 1)
  t.equal(after.value('switchboard_fanout_error_frames_total'), 1)
  t.equal(after.value('switchboard_fanout_slow_clients_dropped_total'), 0)
})

test('read-marker store writes are counted: at most one per user and channel per batch', async (t) => {
  const app = await build(t)
  const markers: string[] = []
  app.topicHandlers.events.on('handled', (h) => { if (h.handler === 'read-markers-store') markers.push(h.offset) })
  const created = await post(app, 'general', 'hello')
  t.equal(created.statusCode, 201)
  const messageId = created.json().id
  for (let i = 0; i < 2; i++) {
    const res = await app.inject({ method: 'PUT', url: '/api/channels/general/read', headers: { 'x-user-id': 'grace' }, payload: { messageId } })
    t.equal(res.statusCode, 204)
  }
  await new Promise<void>((resolve) => {
    const check = () => { if (markers.length >= 2) { app.topicHandlers.events.off('handled', check); resolve() } }
    app.topicHandlers.events.on('handled', check)
    check()
  })
  const { value } = await scrape(app)
  const writes = value('switchboard_read_marker_writes_total')
  t.equal(writes, app.readState.stats.markerWrites, 'the handler\'s count, as scraped')
  t.ok(writes !== undefined && writes >= 1 && writes <= 2, `two markers of one user and channel: one write, or two when they came in two batches (got ${writes})`)
})
