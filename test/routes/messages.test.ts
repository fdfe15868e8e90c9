import t from 'tap'
import { build, handled } from '../helper.ts'

const valid = { channelId: 'general', content: 'hello', senderId: 'u1', senderName: 'Ada' }

t.test('POST /api/messages accepts a message and answers with its id, time and position', async (t) => {
  const app = await build(t)
  const res = await app.inject({ method: 'POST', url: '/api/messages', payload: valid })
  t.equal(res.statusCode, 201)
  const body = res.json()
  t.match(body, { channelId: 'general', content: 'hello', senderId: 'u1', senderName: 'Ada', id: /^[0-9a-f]{24}$/ })
  t.ok(!Number.isNaN(Date.parse(body.createdAt)), 'createdAt is a time')
  t.match(body.position, { epoch: String, offset: /^[0-9]+$/ })
  await handled(app, 'messages-store', body.position)
  t.same(await app.store.get(body.id), { ...body }, 'the store has it, with its position')
})

t.test('bad input: a 400 naming what was wrong, and nothing is produced', async (t) => {
  const app = await build(t)
  const cases: Array<[string, unknown, RegExp]> = [
    ['missing channelId', { content: 'x' }, /channelId/],
    ['missing content', { channelId: 'general' }, /content/],
    ['number content', { ...valid, content: 42 }, /content/],
    ['null content', { ...valid, content: null }, /content/],
    ['empty content', { ...valid, content: '' }, /content/],
    ['blank content', { ...valid, content: '   ' }, /content.*blank/],
    ['too long content', { ...valid, content: 'x'.repeat(4001) }, /content.*4000/],
    ['bad channel id', { ...valid, channelId: 'no spaces allowed' }, /channelId/],
    ['operator as channel', { ...valid, channelId: { $gt: '' } }, /channelId/],
    ['unknown field', { ...valid, admin: true }, /admin|additional|Unexpected/i],
    ['array body', [valid], /body/]
  ]
  let produced = 0
  const produce = app.bus.produce.bind(app.bus)
  app.bus.produce = async (...args) => { produced++; return produce(...args) }
  for (const [name, payload, message] of cases) {
    const res = await app.inject({ method: 'POST', url: '/api/messages', payload: payload as object })
    t.equal(res.statusCode, 400, `${name}: 400`)
    t.match(res.json(), { statusCode: 400, error: 'Bad Request', message }, `${name}: names the field`)
  }
  t.equal(produced, 0, 'nothing reached the log')
})

t.test('malformed JSON, prototype keys and text bodies are 400s, an oversize body a 413', async (t) => {
  const app = await build(t, { BODY_LIMIT: 2048 })
  const post = (payload: string) => app.inject({ method: 'POST', url: '/api/messages', headers: { 'content-type': 'application/json' }, payload })
  const bad = await post('{"channelId": "general", "content": ')
  t.equal(bad.statusCode, 400)
  t.match(bad.json().message, /JSON/)
  const proto = await post('{"channelId":"general","content":"x","__proto__":{"admin":true}}')
  t.equal(proto.statusCode, 400)
  const big = await post(JSON.stringify({ ...valid, content: 'x'.repeat(3000) }))
  t.equal(big.statusCode, 413)
  t.match(big.json(), { statusCode: 413, message: /too large|limit/i })
  const text = await app.inject({ method: 'POST', url: '/api/messages', headers: { 'content-type': 'text/plain' }, payload: 'hi' })
  t.equal(text.statusCode, 400, 'a text body is not a message')
  t.match(text.json().message, /body/)
})

t.test('an unreachable event log is a 503 and nothing is accepted', async (t) => {
  const app = await build(t)
  app.bus.produce = async () => { throw new Error('broker down') }
  const res = await app.inject({ method: 'POST', url: '/api/messages', payload: valid })
  t.equal(res.statusCode, 503)
  t.match(res.json(), { statusCode: 503, error: 'Service Unavailable', message: /event log unavailable/ })
})

t.test('unknown routes are a 404 in the same shape', async (t) => {
  const app = await build(t)
  const res = await app.inject({ method: 'GET', url: '/api/nope' })
  t.equal(res.statusCode, 404)
  t.match(res.json(), { statusCode: 404, error: 'Not Found', message: /GET \/api\/nope/ })
})
