// The HTTP contract is exact: a known path with another method is a 405 naming the allowed ones,
// query parameters are what the document says, and ids as long as the schemas allow reach their routes.
import t, { type Test } from 'tap'
import type { InjectOptions } from 'fastify'
import { build } from '../helper.ts'

t.test('an unsupported method on a known path: 405 with Allow; an unknown path: 404', async (t) => {
  const app = await build(t)
  const res = await app.inject({ method: 'PATCH', url: '/api/channels/general/messages' })
  t.equal(res.statusCode, 405)
  t.equal(res.headers.allow, 'GET, HEAD')
  t.match(res.json(), { statusCode: 405, error: 'Method Not Allowed', message: /PATCH .*allowed: GET, HEAD/ })
  t.equal((await app.inject({ method: 'GET', url: '/api/messages' })).headers.allow, 'POST')
  t.equal((await app.inject({ method: 'DELETE', url: '/health' })).statusCode, 405)
  t.equal((await app.inject({ method: 'GET', url: '/api/nowhere' })).statusCode, 404)
})

t.test('limit must be an integer as documented: limit=true is a 400', async (t) => {
  const app = await build(t)
  for (const limit of ['true', '1.5', '', '0x10']) {
    for (const url of ['/api/channels/general/messages', '/api/messages/ffffffffffffffffffffffff/replies']) {
      const res = await app.inject({ url: `${url}?limit=${limit}` })
      t.equal(res.statusCode, 400, `${url} limit=${limit}`)
    }
  }
  t.equal((await app.inject({ url: '/api/channels/general/messages?limit=10' })).statusCode, 200)
})

t.test('one channel-id limit everywhere: an id of 128 characters reaches its routes (no 414)', async (t) => {
  const app = await build(t)
  const id = 'c'.repeat(128)
  const posted = await app.inject({ method: 'POST', url: '/api/messages', headers: { 'x-user-id': 'alice' }, payload: { channelId: id, content: 'hi' } })
  t.equal(posted.statusCode, 201)
  t.equal((await app.inject({ url: `/api/channels/${id}/messages` })).statusCode, 200)
  t.equal((await app.inject({ url: `/api/channels/${'u'.repeat(120)}/presence` })).statusCode, 200)
  t.equal((await app.inject({ method: 'PUT', url: `/api/channels/x/members/${'u'.repeat(120)}`, headers: { 'x-user-id': 'alice' } })).statusCode, 404, 'a 120-character user id too')
})

/** Every operation of the document, with its path parameters filled in with valid values. */
function operations (doc: any) {
  return Object.entries<Record<string, any>>(doc.paths).flatMap(([path, ops]) => Object.entries<any>(ops).map(([method, op]) => {
    const params = (op.parameters ?? []).filter((p: any) => p.in === 'path')
    const value = (p: any) => p.name === 'emoji' ? encodeURIComponent('👍') : p.schema?.pattern === '^[0-9a-f]{24}$' ? '0123456789abcdef01234567' : 'general'
    const fill = (long?: string) => path.replace(/\{(\w+)\}/g, (_, name) => name === long ? 'x'.repeat(1025) : value(params.find((p: any) => p.name === name)))
    return { name: `${method.toUpperCase()} ${path}`, method: method.toUpperCase(), path, params, op, url: fill(), longUrl: params.length ? fill(params[0].name) : undefined, documented: new Set(Object.keys(op.responses).map(Number)) }
  }))
}

t.test('every status the framework answers around a route is in its document (413, 414, 415, 429, 400 bad JSON, 503)', async (t) => {
  const keys = { server: 'server-key-0123456789abcdefghij', admin: 'admin-key-0123456789abcdefghijkl' }
  const app = await build(t, { RATE_LIMIT_MAX: 1, BODY_LIMIT: 1024, SERVER_API_KEYS: keys.server, ADMIN_API_KEYS: keys.admin })
  // The server and admin APIs answer 401 before anything else without their key.
  const apiKey = (url: string): Record<string, string> => url.startsWith('/api/server/') ? { 'x-api-key': keys.server } : url.startsWith('/api/admin/') ? { 'x-api-key': keys.admin } : {}
  const doc = (await app.inject('/docs/json')).json()
  const ops = operations(doc)
  t.ok(ops.length >= 15, `the document has the API's operations (${ops.length})`)
  let user = 0
  const answer = async (t: Test, o: ReturnType<typeof operations>[number], expected: number, why: string, request: Partial<InjectOptions>) => {
    const res = await app.inject({ method: o.method as InjectOptions['method'], url: o.url, ...request, headers: { 'x-user-id': `u${user++}`, ...apiKey(o.url), ...request.headers } } as InjectOptions)
    t.equal(res.statusCode, expected, `${o.name}, ${why}: ${expected}`)
    t.ok(o.documented.has(res.statusCode), `${o.name}, ${why}: ${res.statusCode} is documented (${[...o.documented].join(', ')})`)
  }
  for (const o of ops) {
    // Fastify answers 503 to every request that arrives while the instance shuts down.
    t.ok(o.documented.has(503), `${o.name} documents 503`)
    if (o.longUrl) await answer(t, o, 414, 'a path parameter over 1,024 characters', { url: o.longUrl })
    if (!['POST', 'PUT', 'PATCH', 'DELETE'].includes(o.method)) continue
    await answer(t, o, 413, 'a body over BODY_LIMIT', { headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ content: 'x'.repeat(2000) }) })
    await answer(t, o, 415, 'a body in another media type', { headers: { 'content-type': 'application/xml' }, payload: '<content>hi</content>' })
    await answer(t, o, 400, 'a body that is not JSON', { headers: { 'content-type': 'application/json' }, payload: '{"content":' })
    if (o.url.startsWith('/api/server/')) continue // exempt from the per-user write limit
    // the second write of one user in the window (RATE_LIMIT_MAX=1), whatever the first one got
    const headers = { 'x-user-id': `writer${user++}`, ...apiKey(o.url) }
    await app.inject({ method: o.method as InjectOptions['method'], url: o.url, headers })
    await answer(t, o, 429, 'a write over the rate limit', { headers })
  }
})

t.test('a channel id over the schemas\' 128 characters is the schema\'s 400 naming it, not a 414', async (t) => {
  const app = await build(t)
  for (const length of [129, 500, 1024]) {
    const id = 'c'.repeat(length)
    for (const url of [`/api/channels/${id}/messages`, `/api/channels/${id}/presence`, `/api/channels/${id}`]) {
      const res = await app.inject({ url })
      t.equal(res.statusCode, 400, `${length} characters: ${url.replace(id, '<id>')}: 400`)
      t.match(res.json(), { statusCode: 400, error: 'Bad Request', message: /params\/(channelId|id)/ }, 'names the parameter')
    }
  }
})

t.test('a method Fastify routes but no route has (QUERY, PROPFIND) on a known path: 405 with Allow, body or not', async (t) => {
  const app = await build(t)
  const cases: Array<[string, Record<string, string>, string | undefined]> = [
    ['QUERY', {}, undefined],
    ['QUERY', { 'content-type': 'application/json' }, '{"q":1}'],
    ['QUERY', { 'content-type': 'application/xml' }, '<q/>'],
    ['PROPFIND', {}, undefined]
  ]
  for (const [method, headers, payload] of cases) {
    const res = await app.inject({ method: method as InjectOptions['method'], url: '/api/channels/general/messages', headers, payload })
    t.equal(res.statusCode, 405, `${method} ${headers['content-type'] ?? 'without a body'}: 405`)
    t.equal(res.headers.allow, 'GET, HEAD')
  }
  t.equal((await app.inject({ method: 'QUERY' as InjectOptions['method'], url: '/api/nowhere' })).statusCode, 404, 'an unknown path stays a 404')
})
