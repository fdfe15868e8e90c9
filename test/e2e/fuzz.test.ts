// Malformed input, generated (fast-check, fixed seed): never a 5xx, never a crash, never a change of state.
import t, { type Test } from 'tap'
import fc from 'fast-check'
import type { FastifyInstance } from 'fastify'
import { build, handled } from '../helper.ts'
import { buildReal, realNames, requireServices } from '../services.ts'
import { TestClient } from '../fanout/helpers.ts'
import { bearer, secret, token } from '../tokens.ts'

const SEED = 20261126
const valid = { channelId: 'general', content: 'hello', nonce: 'n' }

/** Values that are wrong wherever a string id or text is expected. */
const poison = fc.oneof(
  fc.constantFrom<unknown>(null, true, 0, -1, 1e308, [], {}, { $gt: '' }, { $ne: null }, { $where: '1' }, ['$gt'],
    '', ' ', '\u0000', 'a\u0000b', '\u0007\u001b[31m', '../../etc/passwd', '{"$gt":""}', 'user:alice', 'x'.repeat(100_000), '__proto__'),
  fc.object({ maxDepth: 2 }),
  fc.array(fc.anything({ maxDepth: 1 }), { maxLength: 3 })
)

/** A write body with at least one poisoned field (or poisoned extra keys). */
const badBody = fc.oneof(
  fc.record({ field: fc.constantFrom('channelId', 'content', 'nonce', 'senderId', 'senderName', 'id', 'private', 'members', 'name'), value: poison })
    .map(({ field, value }) => ({ ...valid, id: 'x', [field]: value })),
  fc.anything({ maxDepth: 2 }),
  fc.dictionary(fc.constantFrom('$set', '$gt', 'constructor', 'prototype', 'channelId'), poison)
)

const badSegment = fc.oneof(fc.constantFrom('%24gt', '%7B%22%24gt%22%3A%22%22%7D', '%00', 'a%0Ab', '..%2F..', '%E0%A4%A', 'x'.repeat(300), '__proto__%20'), fc.string({ maxLength: 8 }).map(encodeURIComponent).filter((s) => !/^[A-Za-z0-9_.:-]+$/.test(s)))
const badQuery = fc.oneof(fc.constantFrom('before[$gt]=', 'limit=1e400', 'limit=-1', 'limit=abc', 'before=%00', 'limit=1&limit=2', '__proto__[x]=1', 'constructor[prototype][x]=1'), fc.string({ maxLength: 12 }).map(encodeURIComponent))

type Req = { method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', url: string, payload?: string, headers?: Record<string, string> }
const json = (body: unknown) => JSON.stringify(body) ?? 'null'
const requests: fc.Arbitrary<Req> = fc.oneof(
  badBody.map((b) => ({ method: 'POST' as const, url: '/api/messages', payload: json(b) })),
  badBody.map((b) => ({ method: 'POST' as const, url: '/api/channels', payload: json(b) })),
  badBody.map((b) => ({ method: 'PATCH' as const, url: '/api/messages/0123456789abcdef01234567', payload: json(b) })),
  fc.constantFrom('{"channelId":"general","content":"x","__proto__":{"polluted":1}}', '{"constructor":{"prototype":{"polluted":1}},"channelId":"general","content":"x"}', '{"channelId":"general","content":', '\u0000', '[]', 'null', '"str"')
    .map((payload) => ({ method: 'POST' as const, url: '/api/messages', payload })),
  badSegment.map((s) => ({ method: 'GET' as const, url: `/api/channels/${s}/messages` })),
  badQuery.map((q) => ({ method: 'GET' as const, url: `/api/channels/general/messages?${q}` })),
  badSegment.map((s) => ({ method: 'PUT' as const, url: `/api/channels/general/members/${s}` })),
  badSegment.map((s) => ({ method: 'DELETE' as const, url: `/api/messages/${s}` })),
  badSegment.map((s) => ({ method: 'PUT' as const, url: `/api/messages/${s}/reactions/${s}` })),
  fc.string({ maxLength: 40 }).map((h) => ({ method: 'POST' as const, url: '/api/messages', payload: json(valid), headers: { authorization: `Bearer ${h}` } }))
)

/** Everything a bad request could have changed: the log, the stored messages, the channels. */
async function snapshot (app: FastifyInstance) {
  return JSON.stringify([await app.store.page('general', { limit: 100 }), await app.channels.store.get('general'), await app.cache.page('general', { limit: 10 })])
}

async function fuzzHttp (t: Test, app: FastifyInstance, runs: number) {
  const auth = bearer(token({ sub: 'fuzzer' }))
  await app.inject({ method: 'POST', url: '/api/channels', headers: auth, payload: { id: 'general', members: ['x'] } })
  const seeded = await app.inject({ method: 'POST', url: '/api/messages', headers: auth, payload: valid })
  await handled(app, 'messages-store', seeded.json().position)
  await handled(app, 'messages-cache', seeded.json().position)
  let produced = 0
  const produce = app.bus.produce.bind(app.bus)
  app.bus.produce = async (...args) => { produced++; return produce(...args) }
  await app.inject({ method: 'GET', url: '/api/channels/general/messages', headers: auth }) // warms the cache, as any read may
  const before = await snapshot(app)
  const statuses = new Map<number, number>()
  await fc.assert(fc.asyncProperty(requests, async (req) => {
    const res = await app.inject({ ...req, headers: { 'content-type': 'application/json', ...auth, ...req.headers } })
    statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1)
    if (res.statusCode >= 500) throw new Error(`${req.method} ${req.url} ${req.payload?.slice(0, 200)} → ${res.statusCode} ${res.body}`)
    if (res.statusCode < 400 && req.method === 'GET') return // a read with odd but harmless input
    if (res.statusCode < 400) throw new Error(`${req.method} ${req.url} ${req.payload?.slice(0, 200)} was accepted (${res.statusCode})`)
    t.match(res.json(), { statusCode: res.statusCode, error: String, message: String })
  }), { seed: SEED, numRuns: runs })
  t.equal(produced, 0, 'no bad request reached the log')
  t.equal(await snapshot(app), before, 'store, cache and channels unchanged')
  t.equal((({}) as Record<string, unknown>).polluted, undefined, 'no prototype was polluted')
  t.ok([...statuses.keys()].every((s) => s < 500), `no 5xx: ${JSON.stringify(Object.fromEntries(statuses))}`)
}

async function fuzzWs (t: Test, app: FastifyInstance, url: string, runs: number) {
  const client = await TestClient.open(url, `?token=${token({ sub: 'fuzzer' })}`)
  const frame = fc.oneof(
    fc.anything({ maxDepth: 2 }).map((v) => JSON.stringify(v) ?? 'null'),
    fc.record({ op: fc.constantFrom<unknown>('subscribe', 'unsubscribe', 'ping', '__proto__', null, 1), channel: poison, since: poison }).map((f) => JSON.stringify(f)),
    fc.constantFrom('{"op":"subscribe","channel":"general","__proto__":{"polluted":1}}', '{"op":"subscribe","channel":{"$gt":""}}', '{"op":"subscribe","channel":"user:alice"}', '{', '\u0000', 'x'.repeat(5000)),
    fc.string({ maxLength: 30 })
  )
  // Over 4 × WS_MAX_PAYLOAD the transport drops the socket by design (fanout/README.md): stay below.
  const hardCap = app.config.WS_MAX_PAYLOAD * 4
  await fc.assert(fc.asyncProperty(frame.filter((f) => Buffer.byteLength(f) < hardCap), async (f) => { client.send(f) }), { seed: SEED, numRuns: runs })
  client.ws.send(Buffer.from([0xff, 0x00, 0x01]), { binary: true })
  await client.barrier() // every frame above was handled before the pong
  const [conn] = app.fanout.hub.connectionsOf('fuzzer')
  t.ok(conn, 'the connection survived')
  t.ok([...conn!.channels].every((c) => c === 'general' || c === 'user:fuzzer'), `no subscription to a bad or foreign channel: ${[...conn!.channels].join(',')}`)
  t.ok(client.frames.filter((f) => f.op === 'error').length > 0, 'bad frames were answered with error frames')
  client.close()
}

t.test('embedded: HTTP and WebSocket fuzz', async (t) => {
  const app = await build(t, { JWT_SECRET: secret, RATE_LIMIT_MAX: 0, BODY_LIMIT: 65536, HOST: '127.0.0.1' })
  await fuzzHttp(t, app, 300)
  await fuzzWs(t, app, `ws://127.0.0.1:${app.fanout.uwsPort}/ws`, 200)
})

t.test('real services: HTTP and WebSocket fuzz', async (t) => {
  if (!await requireServices(t, 'kafka', 'redis', 'mongo')) return
  const app = await buildReal(t, { names: realNames('fuzz'), JWT_SECRET: secret, RATE_LIMIT_MAX: 0, HOST: '127.0.0.1' })
  await fuzzHttp(t, app, 150)
  await fuzzWs(t, app, `ws://127.0.0.1:${app.fanout.uwsPort}/ws`, 100)
})
