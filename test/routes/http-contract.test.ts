// The HTTP contract is exact: a known path with another method is a 405 naming the allowed ones,
// query parameters are what the document says, and ids as long as the schemas allow reach their routes.
import t from 'tap'
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
    const res = await app.inject({ url: `/api/channels/general/messages?limit=${limit}` })
    t.equal(res.statusCode, 400, `limit=${limit}`)
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
