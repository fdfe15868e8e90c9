// The client suite: @switchboard/client against a real switchboard started in the test, run on the
// embedded services (client.test.ts) and on Kafka, Redis and MongoDB (client-real.test.ts).
import type { Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import type { Config } from '../../config.ts'
import { handled } from '../helper.ts'
import { bearer, secret, token } from '../tokens.ts'
import { client, listen, model, Relay } from './harness.ts'
import { ClientClose, SwitchboardError, type ClientEvents, type Message } from '../../client/src/index.ts'

const CHANNEL = 'room'

async function post (app: FastifyInstance, content: string, headers: Record<string, string> = { 'x-user-id': 'ada' }): Promise<Message> {
  const res = await app.inject({ method: 'POST', url: '/api/messages', headers, payload: { channelId: CHANNEL, content } })
  if (res.statusCode !== 201) throw new Error(`post failed: ${res.statusCode} ${res.body}`)
  return res.json()
}

export type Make = (t: Test, config?: Partial<Config>) => Promise<FastifyInstance>

export function clientSuite (t: Test, build: Make) {
  t.test('a connection cut by the network resumes from the last position: every message once, in order', async (t) => {
    const app = await build(t)
    const { uwsPort, api } = await listen(app)
    const relay = await new Relay(uwsPort).start()
    t.teardown(() => relay.cut())
    const c = client(t, { url: `ws://127.0.0.1:${relay.port}/ws`, api, user: { id: 'reader' }, random: () => 0.5 })
    const room = c.channel(CHANNEL)
    const shown = model(room)
    const positions: string[] = []
    room.on('message.created', ({ position }) => positions.push(position!.offset))
    const subscribed: Array<ClientEvents['disconnected'] | { recovered: boolean, resumed: boolean }> = []
    room.on('subscribed', (s) => subscribed.push(s))
    const delays: number[] = []
    c.on('disconnected', (d) => { if (d.delay !== undefined) delays.push(d.delay) })

    await room.next('subscribed')
    for (const content of ['m1', 'm2', 'm3']) await post(app, content)
    await shown.has('m3')

    const down = c.next('disconnected')
    await relay.cut()
    t.equal((await down).reconnect, true, 'a cut connection is reconnected')
    // Posted while the client is away; the relay refuses its attempts meanwhile.
    for (const content of ['m4', 'm5', 'm6']) await post(app, content)
    await c.next('disconnected') // at least one refused attempt, so the backoff grows
    await relay.restore()
    const back = await room.next('subscribed')
    t.same(back, { recovered: true, resumed: true, position: back.position }, 'resubscribed with since and recovered')
    await shown.has('m6')
    await post(app, 'm7')
    await shown.has('m7')

    t.same(shown.contents(), ['m1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7'], 'every message, in order')
    t.same(shown.duplicates, [], 'none twice')
    t.same(positions, [...positions].sort((a, b) => a.length - b.length || (a < b ? -1 : 1)), 'positions only go forward')
    t.equal(new Set(positions).size, positions.length)
    t.equal(room.position?.offset, positions.at(-1))
    // full jitter with random() = 0.5: half of min(maxDelay, initialDelay · 2^attempt), growing while refused
    t.same(delays, delays.map((_, i) => Math.floor(0.5 * Math.min(200, 20 * 2 ** i))), 'exponential backoff with full jitter')
    t.ok(delays.length >= 2)
  })

  t.test('recovered: false gives a gap, and reload mode reloads the newest page with no duplicate and no hole', async (t) => {
    const app = await build(t, { RECOVERY_BUFFER: 2, RECOVERY_LOG: 2 })
    const { uwsPort, api } = await listen(app)
    const relay = await new Relay(uwsPort).start()
    t.teardown(() => relay.cut())
    const c = client(t, { url: `ws://127.0.0.1:${relay.port}/ws`, api, user: { id: 'reader' }, reload: true })
    const room = c.channel(CHANNEL)
    const shown = model(room)
    await room.next('reload') // reload mode starts from the newest page (empty here)
    const m1 = await post(app, 'm1')
    await shown.has('m1')

    const down = c.next('disconnected')
    await relay.cut()
    await down
    let last = m1
    for (const content of ['m2', 'm3', 'm4', 'm5']) last = await post(app, content)
    await Promise.all([handled(app, 'messages-recovery', last.position!), handled(app, 'messages-store', last.position!), handled(app, 'messages-cache', last.position!)])
    const gap = room.next('gap')
    const reload = room.next('reload')
    await relay.restore()
    t.same((await gap).since, m1.position, 'the gap starts where the client was')
    const page = await reload
    t.same(page.messages.map((m) => m.content), ['m5', 'm4', 'm3', 'm2', 'm1'], 'the newest page, newest first')
    await post(app, 'm6')
    await shown.has('m6')
    t.same(shown.contents(), ['m1', 'm2', 'm3', 'm4', 'm5', 'm6'], 'no hole')
    t.same(shown.duplicates, [], 'no duplicate')
  })

  t.test('a token that expires mid-session: close 4401, getToken, and the stream goes on with nothing lost', async (t) => {
    const app = await build(t, { JWT_SECRET: secret })
    const { ws, api } = await listen(app)
    let issued = 0
    // the first token lives 2 s; the server closes its socket with 4401 at its exp
    const getToken = () => token({ sub: 'reader', expiresIn: issued++ === 0 ? 2 : 300 })
    const c = client(t, { url: ws, api, getToken, refreshBefore: 0 })
    const room = c.channel(CHANNEL)
    const shown = model(room)
    await room.next('subscribed')
    const writer = bearer(token({ sub: 'ada' }))
    await post(app, 'before', writer)
    await shown.has('before')
    // listening before the close: the resubscribe may come before the post below is answered
    const back = room.next('subscribed')
    const expired = await c.next('disconnected')
    t.equal(expired.code, 4401, 'the server closed the socket at the token exp')
    t.equal(expired.delay, 0, 'reconnects at once')
    await post(app, 'during', writer)
    t.equal((await back).recovered, true)
    await post(app, 'after', writer)
    await shown.has('after')
    t.same(shown.contents(), ['before', 'during', 'after'])
    t.same(shown.duplicates, [])
    t.equal(issued, 2, 'getToken was called again')
    t.equal(c.state, 'connected')
  })

  t.test('a token is refreshed before its exp, and the client reconnects with it by itself', async (t) => {
    const app = await build(t, { JWT_SECRET: secret })
    const { ws, api } = await listen(app)
    let issued = 0
    // exp is in whole seconds: the first token lives 19-20 s, and is renewed 18.5 s before it
    const getToken = () => token({ sub: 'reader', expiresIn: issued++ === 0 ? 20 : 300 })
    const c = client(t, { url: ws, api, getToken, refreshBefore: 18_500 })
    const room = c.channel(CHANNEL)
    const shown = model(room)
    await room.next('subscribed')
    await post(app, 'one', bearer(token({ sub: 'ada' })))
    await shown.has('one')
    const back = room.next('subscribed')
    const refreshed = await c.next('disconnected')
    t.equal(refreshed.code, ClientClose.TOKEN_REFRESH, 'the client moved to the new token before the server had to close with 4401')
    t.equal((await back).recovered, true)
    await post(app, 'two', bearer(token({ sub: 'ada' })))
    await shown.has('two')
    t.same(shown.contents(), ['one', 'two'])
    t.equal(app.fanout.hub.stats.tokensExpired, 0)
  })

  t.test('a refused token is not retried: failed says why', async (t) => {
    const app = await build(t, { JWT_SECRET: secret })
    const { ws, api } = await listen(app)
    const c = client(t, { url: ws, api, token: token({ sub: 'reader', key: 'x'.repeat(40) }) })
    const failed = await c.next('failed')
    t.equal(failed.reason, 'unauthorized')
    t.equal(c.state, 'disconnected')
    const error = await c.api.history(CHANNEL).catch((err) => err)
    t.ok(error instanceof SwitchboardError)
    t.equal(error.status, 401)
    t.match(error.message, /token/i, "the server's own message")
  })

  t.test('a post whose answer is lost is retried with its nonce and creates one message', async (t) => {
    const app = await build(t)
    const { ws, api } = await listen(app)
    const bodies: string[] = []
    let lost = 0
    const flaky: typeof fetch = async (url, init) => {
      const res = await fetch(url, init)
      if (init?.method === 'POST' && String(url).endsWith('/api/messages')) {
        bodies.push(String(init.body))
        // the server has the message; the answer never reaches the client, then a 503 once
        if (lost++ === 0) throw new TypeError('socket hang up')
        if (lost === 2) return new Response(JSON.stringify({ statusCode: 503, error: 'Service Unavailable', message: 'the log is unavailable' }), { status: 503 })
      }
      return res
    }
    const c = client(t, { url: ws, api, user: { id: 'ada', name: 'Ada' }, fetch: flaky, retry: { initialDelay: 1, maxDelay: 5 } })
    const message = await c.api.post({ channelId: CHANNEL, content: 'once' })
    t.equal(message.content, 'once')
    t.equal(message.senderName, 'Ada')
    t.equal(bodies.length, 3, 'sent three times')
    t.equal(new Set(bodies.map((b) => JSON.parse(b).nonce)).size, 1, 'with one nonce')
    await handled(app, 'messages-store', message.position!)
    const history = await c.api.history(CHANNEL)
    t.same(history.messages.map((m) => m.id), [message.id], 'one message in history')

    const bad = await c.api.post({ channelId: CHANNEL, content: ' ' }).catch((err) => err)
    t.equal(bad.status, 400)
    t.match(bad.message, /blank/, "a refusal carries the server's message")
  })

  t.test('typed helpers for edits, reactions, typing, presence and channels', async (t) => {
    const app = await build(t)
    const { ws, api } = await listen(app)
    const c = client(t, { url: ws, api, user: { id: 'ada', name: 'Ada' } })
    const room = c.channel(CHANNEL)
    const seen: string[] = []
    room.on('event', (e) => seen.push(e.type))
    await room.next('subscribed')
    // ada joins once her subscription has lasted WS_CHURN_WINDOW_MS
    const joined = room.next('presence.join')
    const message = await c.api.post({ channelId: CHANNEL, content: 'hi' })
    await handled(app, 'messages-store', message.position!)
    const edited = room.next('message.updated')
    t.equal((await c.api.edit(message.id, 'hi!')).content, 'hi!')
    t.equal((await edited).data.content, 'hi!')
    const reacted = room.next('reaction.added')
    await c.api.react(message.id, '👍')
    t.same((await reacted).data, { messageId: message.id, emoji: '👍', userId: 'ada' })
    const typing = room.next('typing')
    await c.api.typing(CHANNEL)
    t.equal((await typing).data.userId, 'ada')
    await joined
    t.same((await c.api.presence(CHANNEL)).users.map((u) => u.userId), ['ada'])
    const created = await c.api.createChannel({ id: 'team', private: true, members: ['grace'] })
    t.same(created.members, ['ada', 'grace'])
    await c.api.removeMember('team', 'grace')
    t.same((await c.api.getChannel('team')).members, ['ada'])
    const deleted = room.next('message.deleted')
    await c.api.delete(message.id)
    t.equal((await deleted).data.id, message.id)
    t.ok(seen.includes('presence.join'))
  })
}
