import t from 'tap'
import { build } from '../helper.ts'

t.test('/health and /ready on embedded defaults', async (t) => {
  const app = await build(t)
  t.same((await app.inject('/health')).json(), { status: 'ok' })
  const ready = await app.inject('/ready')
  t.equal(ready.statusCode, 200)
  t.same(ready.json(), { status: 'ready', checks: { broadcast: { ok: true }, bus: { ok: true }, cache: { ok: true }, store: { ok: true } } })
})

t.test('/ready is a 503 naming the dependency that does not answer', async (t) => {
  const app = await build(t)
  app.store.ping = async () => { throw new Error('connection refused') }
  const ready = await app.inject('/ready')
  t.equal(ready.statusCode, 503)
  t.same(ready.json(), { status: 'unavailable', checks: { broadcast: { ok: true }, bus: { ok: true }, cache: { ok: true }, store: { ok: false, error: 'connection refused' } } })
})
