// Hooks that compose (issue 13): every notification hook added runs, in the order added; a decision
// hook has one owner, and a second one stops the boot naming both. The hub alone, then the app.
import t from 'tap'
import Fastify from 'fastify'
import fp from 'fastify-plugin'
import App, { serverOptions } from '../../app.ts'
import { loadConfig } from '../../config.ts'
import { FanoutHub } from '../../fanout/hub.ts'
import type { FanoutLogger, SocketHandle } from '../../fanout/types.ts'
import { connectAs } from '../helper.ts'

const handle = (): SocketHandle => ({ send () {}, subscribe () {}, unsubscribe () {}, close () {} })

t.test('the hub: notification hooks all run in the order added, one failing hides nothing', async (t) => {
  const calls: string[] = []
  const errors: Array<{ owner?: string, msg?: string }> = []
  const logger: FanoutLogger = { debug () {}, warn () {}, error (obj, msg) { errors.push({ ...obj, msg }) } }
  const hub = new FanoutHub({ logger, hooks: { async onConnect (c) { calls.push(`options:${c.user}`) } } })
  hub.addHook('onConnect', async (c) => { calls.push(`first:${c.user}`) }, 'first')
  hub.addHook('onConnect', async () => { throw new Error('boom') }, 'broken')
  hub.addHooks({ async onConnect (c) { calls.push(`second:${c.user}`) }, async onDisconnect (c) { calls.push(`gone:${c.user}`) } }, 'second')
  const conn = hub.connect(handle(), 'fastify', { userId: 'alice' }, '::1')
  t.same(calls, ['options:alice', 'first:alice', 'second:alice'], 'each started in the order added')
  hub.disconnect(conn)
  t.same(calls.at(-1), 'gone:alice')
  await new Promise(setImmediate) // the failing hook's rejection is handled a tick later
  t.match(errors, [{ owner: 'broken', msg: 'onConnect hook of broken failed' }])
})

t.test('the hub: a decision hook has one owner', async (t) => {
  const hub = new FanoutHub({ hooks: { async authorizeSubscribe () {} } })
  t.throws(() => hub.setDecision('authorizeSubscribe', async () => {}, 'late'),
    { message: 'fanout: the authorizeSubscribe hook is set by the hooks option; late cannot set another (a decision hook has one owner)' })
  const recover = async () => ({ position: null, recovered: false })
  hub.setDecision('onSubscribe', recover, 'recovery')
  t.throws(() => hub.setDecision('onSubscribe', recover, 'other'), { message: /set by recovery; other cannot/ })
  t.throws(() => hub.setDecision('onSubscribe', recover, 'other', 'someone'), { message: /set by recovery; other cannot/ }, 'replacing names the real owner')
  t.throws(() => hub.setDecision('authenticate', async () => undefined, 'other', 'nobody'), { message: /replaces the authenticate hook of nobody, but none is set/ })
  const wrapped = async () => ({ position: null, recovered: true })
  hub.setDecision('onSubscribe', wrapped, 'test', 'recovery')
  t.equal(hub.decision('onSubscribe'), wrapped, 'replaced on purpose, naming the owner')
  // @ts-expect-error onConnect is a notification: it is added, never set
  t.throws(() => hub.setDecision('onConnect', async () => {}, 'x'), TypeError)
  // @ts-expect-error onSubscribe is a decision
  t.throws(() => hub.addHook('onSubscribe', async () => {}, 'x'), TypeError)
})

const config = () => loadConfig({}, { PORT: 0, WS_PORT: 0, LOG_LEVEL: 'silent', SHED_EVENT_LOOP_DELAY_MS: 0, SHED_EVENT_LOOP_UTILIZATION: 0 })

t.test('the app: a plugin adding onConnect and onDisconnect runs beside the personal channel and the connection log', async (t) => {
  const resolved = config()
  const app = Fastify({ ...serverOptions(resolved), logger: false })
  t.teardown(() => app.close())
  const seen: string[] = []
  let gone!: () => void
  const disconnected = new Promise<void>((resolve) => { gone = resolve })
  await app.register(App, { config: resolved })
  await app.register(fp(async (app) => {
    app.fanout.hub.addHook('onConnect', async (conn) => { seen.push(`+${conn.user}`) }, 'audit')
    app.fanout.hub.addHook('onDisconnect', async (conn) => { seen.push(`-${conn.user}`); gone() }, 'audit')
  }, { name: 'audit', dependencies: ['fanout'] }))
  await app.ready()
  const logged = new Promise<void>((resolve) => {
    app.connections.events.on('produced', (e) => { if ('type' in e && e.type === 'connected' && e.userId === 'alice') resolve() })
  })
  const { client } = await connectAs(app, t, 'alice')
  t.match(await client.next((f) => f.op === 'subscribed'), { channel: 'user:alice' }, 'personal-channel subscribed it')
  await logged
  t.pass('connections wrote `connected`')
  t.same(seen, ['+alice'], 'the audit hook ran too')
  await client.close()
  await disconnected
  t.same(seen, ['+alice', '-alice'])
})

t.test('the app: a second onSubscribe stops the boot, naming both plugins', async (t) => {
  const resolved = config()
  const app = Fastify({ ...serverOptions(resolved), logger: false })
  t.teardown(() => app.close())
  app.register(App, { config: resolved })
  app.register(fp(async (app) => {
    app.fanout.hub.setDecision('onSubscribe', async (_conn, _channel, _since, start) => ({ position: start, recovered: false }), 'my-recovery')
  }, { name: 'my-recovery', dependencies: ['fanout'] }))
  await t.rejects(async () => { await app.ready() }, { message: 'fanout: the onSubscribe hook is set by recovery; my-recovery cannot set another (a decision hook has one owner)' })
})
