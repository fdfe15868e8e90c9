// Client frames per connection (issue 10, item 7): a burst, then a rate; over it an error frame,
// then a close with 4029 for a client that keeps sending.
import t from 'tap'
import { FrameBudget } from '../../fanout/frame-budget.ts'
import { buildApp, TestClient, uwsTarget } from './helpers.ts'

t.test('the bucket: burst, one rate_limited per run, close past another burst, refilled by time', async (t) => {
  let now = 0
  const budget = new FrameBudget({ rate: 2, burst: 3, now: () => now })
  const take = (n: number) => Array.from({ length: n }, () => budget.take())
  t.same(take(3), ['ok', 'ok', 'ok'], 'a burst of 3')
  t.same(take(2), ['limited', 'dropped'], 'then told once, then dropped quietly')
  now += 1500 // 3 frames earned, 2 of them owed
  t.same(take(2), ['ok', 'limited'], 'frames sent over the budget count against it')
  now += 10_000
  t.same(take(5), ['ok', 'ok', 'ok', 'limited', 'dropped'], 'refilled to the burst, never beyond')
  t.same(take(2), ['close', 'close'], 'another burst past the budget: close')
  t.same(new FrameBudget({ rate: 0, burst: 1, now: () => 0 }).take(), 'ok', 'rate 0: no limit')
})

t.test('uWS: a flood gets rate_limited once, then a 4029 close; other clients are unaffected', async (t) => {
  const target = await uwsTarget(t, { frameBudget: { rate: 1, burst: 5, now: () => 0 } })
  const flood = await TestClient.open(target.url)
  const calm = await TestClient.open(target.url)
  for (let i = 0; i < 12; i++) flood.send({ op: 'ping' })
  t.same(await flood.closed, { code: 4029, reason: 'too many frames' })
  t.equal(flood.frames.filter((f) => f.op === 'pong').length, 5, 'the burst was answered')
  t.same(flood.frames.filter((f) => f.op === 'error').map((f) => f.code), ['rate_limited'], 'one error frame for the run')
  t.equal(target.hub.stats.framesRateLimited, 5, 'frames 6 to 10 were dropped')
  t.equal(target.hub.stats.rateLimitedClosed, 1)
  await calm.barrier()
  t.pass('another connection has its own budget')
  calm.close()
})

t.test('API port: WS_FRAME_RATE and WS_FRAME_BURST from the config', async (t) => {
  const { target } = await buildApp(t, { uws: false }, { WS_FRAME_RATE: 1, WS_FRAME_BURST: 5 })
  const flood = await TestClient.open(target('fastify').url)
  for (let i = 0; i < 50; i++) flood.send({ op: 'subscribe', channel: `c${i}` })
  t.match(await flood.next((f) => f.op === 'error'), { code: 'rate_limited', message: /1 per second \(bursts of 5\)/ })
  t.equal((await flood.closed).code, 4029)
})
