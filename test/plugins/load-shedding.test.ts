// Load shedding: a saturated event loop refuses requests with 503 + Retry-After at once, keeps
// answering /health, /ready (which names the load) and /metrics, and counts what it refused.
import t from 'tap'
import { setImmediate as turn } from 'node:timers/promises'
import { build } from '../helper.ts'

/** Keeps the event loop busy until the sampler has seen it (the load itself, not a wait). */
async function saturate (isUnderPressure: () => boolean) {
  while (!isUnderPressure()) {
    const until = performance.now() + 20
    while (performance.now() < until) { /* busy */ }
    await turn()
  }
}

t.test('under pressure: 503 with Retry-After in the app\'s error shape; operations endpoints still answer', async (t) => {
  // any utilization at all counts as saturated: the test only needs the sampler to see some work
  const app = await build(t, { SHED_EVENT_LOOP_UTILIZATION: 0.0001, SHED_EVENT_LOOP_DELAY_MS: 0, SHED_RETRY_AFTER_SECONDS: 3 })
  await saturate(() => app.loadShedding.underPressure())
  const refused = await app.inject({ method: 'POST', url: '/api/messages', payload: { channelId: 'g', content: 'hi', senderId: 'a' } })
  t.equal(refused.statusCode, 503)
  t.equal(refused.headers['retry-after'], '3')
  t.match(refused.json(), { statusCode: 503, error: 'Service Unavailable', message: /^overloaded \(event loop utilization [0-9.]+\): request refused, retry in 3 s$/ })
  t.equal((await app.inject('/api/channels/g/messages')).statusCode, 503, 'reads are shed too')
  t.equal((await app.inject('/health')).statusCode, 200, '/health still answers')
  const ready = await app.inject('/ready')
  t.equal(ready.statusCode, 503, '/ready fails, so a balancer sends traffic elsewhere')
  t.match(ready.json().checks.load, { ok: false, error: /^overloaded: event loop delay/ })
  const metrics = await app.inject('/metrics')
  t.equal(metrics.statusCode, 200, '/metrics still answers')
  t.match(metrics.body, /switchboard_http_shed_total 2\b/, 'two requests shed')
  t.equal(app.loadShedding.stats.shed, 2)
})

t.test('the utilization is the last interval\'s, not since start-up: idle history does not hide a saturated second', async (t) => {
  const app = await build(t, { SHED_EVENT_LOOP_UTILIZATION: 0.9, SHED_EVENT_LOOP_DELAY_MS: 0 })
  // An idle history first (the subject of the test, not a synchronisation): four seconds in which
  // the event loop waits. Since start-up the loop is then at most about a third busy below.
  await new Promise((resolve) => setTimeout(resolve, 4000))
  // Then busy through two of the plugin's samples (each one a change of its reading), so one whole
  // sample interval was saturated.
  const reading = () => app.loadShedding.reading().eventLoopUtilization
  for (let samples = 0, last = reading(); samples < 2;) {
    const until = performance.now() + 20
    while (performance.now() < until) { /* busy */ }
    await turn()
    if (reading() !== last) { samples++; last = reading() }
  }
  t.ok(reading() > 0.9, `the saturated interval reads as such (${reading().toFixed(2)}); since start-up it would be about 0.3`)
  t.equal(app.loadShedding.underPressure(), true, 'and requests are shed')
})

t.test('a blocked event loop is shed on its delay: the sampling tick that had to wait says how long', async (t) => {
  const app = await build(t, { SHED_EVENT_LOOP_DELAY_MS: 200, SHED_EVENT_LOOP_UTILIZATION: 0 })
  const before = app.loadShedding.reading().eventLoopDelay
  // 2.5 s without yielding: a once-a-second tick falls due in the first second and runs 1.5 s late
  const until = performance.now() + 2500
  while (performance.now() < until) { /* blocked */ }
  while (app.loadShedding.reading().eventLoopDelay === before) await turn()
  t.ok(app.loadShedding.reading().eventLoopDelay > 1000, `the late tick measured the block (${Math.round(app.loadShedding.reading().eventLoopDelay)} ms)`)
  const refused = await app.inject({ method: 'POST', url: '/api/messages', payload: { channelId: 'g', content: 'hi', senderId: 'a' } })
  t.equal(refused.statusCode, 503)
  t.match(refused.json().message, /^overloaded \(event loop delay \d+ ms\): request refused, retry in \d+ s$/)
})

t.test('not under pressure: requests go through and /ready has a passing load check', async (t) => {
  const app = await build(t, { SHED_EVENT_LOOP_DELAY_MS: 60_000, SHED_EVENT_LOOP_UTILIZATION: 0 })
  t.equal((await app.inject({ method: 'POST', url: '/api/messages', payload: { channelId: 'g', content: 'hi', senderId: 'a' } })).statusCode, 201)
  t.same((await app.inject('/ready')).json().checks.load, { ok: true })
  t.equal(app.loadShedding.stats.shed, 0)
})

t.test('off (both thresholds 0): no load check, nothing shed', async (t) => {
  const app = await build(t)
  t.equal(app.loadShedding.underPressure(), false)
  t.notOk('load' in (await app.inject('/ready')).json().checks)
})
