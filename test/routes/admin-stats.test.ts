// The operator dashboard: /admin exists only with ADMIN_API_KEYS, and GET /api/admin/stats reads the
// figures /metrics exposes (the same counters, no bookkeeping of its own).
import t from 'tap'
import { Value } from '@sinclair/typebox/value'
import type { FastifyInstance } from 'fastify'
import { build, connectAs, handled } from '../helper.ts'
import { AdminStats, quantile } from '../../routes/admin-stats.ts'

const ADMIN_KEY = 'admin-key-0123456789abcdefghijkl'
const headers = { 'x-api-key': ADMIN_KEY }

async function stats (app: FastifyInstance): Promise<AdminStats> {
  const res = await app.inject({ url: '/api/admin/stats', headers })
  if (res.statusCode !== 200) throw new Error(`/api/admin/stats answered ${res.statusCode}: ${res.body}`)
  return res.json()
}

/** One sample of /metrics by name and labels. */
async function metric (app: FastifyInstance, line: RegExp): Promise<number> {
  const body = (await app.inject('/metrics')).body
  const found = body.split('\n').find((l) => line.test(l))
  if (!found) throw new Error(`no ${line} in /metrics`)
  return Number(found.split(' ').at(-1))
}

t.test('without ADMIN_API_KEYS: no /admin page (404), the stats refused like the rest of the admin API (401)', async (t) => {
  const app = await build(t)
  for (const url of ['/admin', '/admin.html', '/admin.js', '/admin.css']) {
    const res = await app.inject(url)
    t.equal(res.statusCode, 404, `${url}: 404`)
    t.match(res.headers['content-type'], /application\/json/, `${url}: the JSON 404 of any unknown URL`)
  }
  const res = await app.inject({ url: '/api/admin/stats', headers })
  t.equal(res.statusCode, 401)
  t.match(res.json().message, /admin API is off: no ADMIN_API_KEYS configured/)
  t.equal((await app.inject('/')).statusCode, 200, 'the demo page is still served')
})

t.test('with ADMIN_API_KEYS: the page is served, the stats take the key', async (t) => {
  const app = await build(t, { ADMIN_API_KEYS: ADMIN_KEY })
  const page = await app.inject('/admin')
  t.equal(page.statusCode, 200)
  t.match(page.headers['content-type'], /text\/html/)
  t.match(page.body, /<script src="\/admin\.js"/)
  t.equal((await app.inject('/admin.js')).statusCode, 200)
  t.equal((await app.inject('/admin.css')).statusCode, 200)

  const missing = await app.inject('/api/admin/stats')
  t.equal(missing.statusCode, 401, 'no key')
  t.match(missing.json().message, /missing API key/)
  t.equal((await app.inject({ url: '/api/admin/stats', headers: { 'x-api-key': 'wrong-key-0123456789abcdefghij' } })).statusCode, 401, 'a wrong key')

  const body = await stats(app)
  t.ok(Value.Check(AdminStats, body), `the documented shape: ${[...Value.Errors(AdminStats, body)].map((e) => `${e.path} ${e.message}`).join('; ')}`)
  t.match(body, {
    instanceId: app.instanceId,
    connections: { total: 0, uws: 0, fastify: 0 },
    subscriptions: 0,
    totals: { posts: 0, deliveries: 0, slowClientsDropped: 0, deadLetters: 0 },
    deadLetters: {},
    consumerLag: { available: true },
    latency: { count: 0, p50: null, p90: null, p99: null }
  })
  t.equal(body.latency.buckets.at(-1)?.le, null, 'the +Inf bucket is sent as null')
})

t.test('the figures move with a connection, a subscription and a post, and match /metrics', async (t) => {
  const app = await build(t, { ADMIN_API_KEYS: ADMIN_KEY })
  const before = await stats(app)
  const { client } = await connectAs(app, t, 'ada')
  const connected = await stats(app) // the user's own channel may be subscribed already
  t.equal((await client.subscribe('general')).op, 'subscribed')

  const created = await app.inject({ method: 'POST', url: '/api/messages', payload: { channelId: 'general', content: 'hello', senderId: 'ada' } })
  t.equal(created.statusCode, 201)
  await client.next((f) => f.op === 'event' && f.channel === 'general')
  await handled(app, 'messages-fanout', created.json().position)

  const after = await stats(app)
  t.match(after.connections, { total: 1, uws: 1 }, 'one live connection')
  t.equal(after.subscriptions - connected.subscriptions, 1, 'one more subscription')
  t.equal(after.totals.posts - before.totals.posts, 1, 'one post')
  t.ok(after.totals.deliveries - before.totals.deliveries >= 1, 'delivered to the subscriber')
  t.equal(after.latency.count - before.latency.count, 1, 'one latency observation for the message, not one per socket')
  t.ok(after.latency.p50 !== null && after.latency.p99 !== null, 'percentiles once there is an observation')
  t.ok(after.latency.p50! <= after.latency.p99!, 'p50 ≤ p99')

  t.equal(after.totals.deliveries, await metric(app, /^switchboard_fanout_deliveries_total /), 'the deliveries /metrics reports')
  t.equal(after.subscriptions, await metric(app, /^switchboard_fanout_subscriptions /), 'the subscriptions /metrics reports')
  t.equal(after.latency.count, await metric(app, /^switchboard_delivery_latency_seconds_count /), 'the latency histogram /metrics reports')

  // a disconnect takes its subscriptions with it
  const gone = new Promise<void>((resolve) => app.fanout.hub.addHook('onDisconnect', async () => { resolve() }, 'test'))
  await client.close()
  await gone
  t.match(await stats(app), { connections: { total: 0 }, subscriptions: 0 })
})

t.test('quantile interpolates within a bucket, as histogram_quantile does', async (t) => {
  const buckets = [{ le: 0.5, count: 0 }, { le: 1, count: 10 }, { le: Infinity, count: 10 }]
  t.equal(quantile(0.5, buckets), 0.75, 'half way into the bucket that holds the rank')
  t.equal(quantile(0.99, [{ le: 0.1, count: 0 }, { le: Infinity, count: 4 }]), 0.1, 'beyond the last bound: its lower edge')
  t.equal(quantile(0.5, [{ le: Infinity, count: 0 }]), null, 'no observation')
})
