// Load shedding: a saturated event loop refuses requests with 503 + Retry-After at once, keeps
// answering /health, /ready (which names the load) and /metrics, and counts what it refused.
import t from 'tap'
import { setImmediate as turn } from 'node:timers/promises'
import { build } from '../helper.ts'
import { SAMPLE_INTERVAL_MS, createLoadSampler, overloadOf } from '../../plugins/external/load-shedding.ts'

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

/** An event loop's clock and utilization, advanced by hand: idle or busy for so many ms. */
function fakeLoop () {
  const loop = { now: 0, idle: 0, active: 0 }
  type Reading = { idle: number, active: number, utilization: number }
  const utilization = (current?: Reading, previous?: Reading): Reading => {
    if (!current || !previous) return { idle: loop.idle, active: loop.active, utilization: loop.active / ((loop.idle + loop.active) || 1) }
    const active = current.active - previous.active
    const idle = current.idle - previous.idle
    return { idle, active, utilization: active / ((idle + active) || 1) }
  }
  return {
    sampler: createLoadSampler(() => loop.now, utilization as unknown as NonNullable<Parameters<typeof createLoadSampler>[1]>),
    idle (ms: number) { loop.now += ms; loop.idle += ms },
    busy (ms: number) { loop.now += ms; loop.active += ms }
  }
}

t.test('the utilization is the last interval\'s, not since start-up: an idle history does not hide a saturated second', async (t) => {
  const loop = fakeLoop()
  for (let second = 0; second < 3600; second++) { loop.idle(SAMPLE_INTERVAL_MS); loop.sampler.sample() }
  t.equal(loop.sampler.last.eventLoopUtilization, 0, 'an idle hour')
  loop.busy(SAMPLE_INTERVAL_MS)
  loop.sampler.sample()
  t.equal(loop.sampler.last.eventLoopUtilization, 1, 'then one saturated second reads 1 (since start-up it would read 1/3601)')
  t.equal(overloadOf(loop.sampler.last, 0, 0.98), 'event loop utilization 1.00', 'and is an overload at 0.98')
  loop.idle(SAMPLE_INTERVAL_MS)
  loop.sampler.sample()
  t.equal(overloadOf(loop.sampler.last, 0, 0.98), undefined, 'the next idle second is not')
})

t.test('a blocked event loop is an overload by its delay: the sample that had to wait says how long', async (t) => {
  const loop = fakeLoop()
  loop.idle(SAMPLE_INTERVAL_MS)
  loop.sampler.sample()
  t.equal(loop.sampler.last.eventLoopDelay, 0, 'on time')
  loop.busy(2500) // the loop blocked: the sample due after 1 s runs 1.5 s late
  loop.sampler.sample()
  t.equal(loop.sampler.last.eventLoopDelay, 1500)
  t.equal(overloadOf(loop.sampler.last, 1000, 0), 'event loop delay 1500 ms')
  t.equal(overloadOf(loop.sampler.last, 2000, 0), undefined, 'under a higher limit it is not')
  t.equal(overloadOf(loop.sampler.last, 0, 0), undefined, 'nor with both checks off')
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
