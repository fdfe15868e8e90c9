// The webhook relay's behaviour, run on the embedded bus and on real Kafka: a local HTTP server is the
// webhook. It gets the chosen channels' new messages only, once each after the failures it answers,
// and a dead URL ends in messages.dlq while the store, the cache and the recovery log go on.
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http'
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import type { Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import type { Position } from '../../../plugin-api.ts'
import type { WebhookRelayOptions } from '../index.ts'
import { handledLog } from '../../../test/services.ts'
import { readDeadLetters } from '../../../test/consumers/dead-letters-suite.ts'

/** Builds the app with the relay registered after it, as a plugin with these options. */
export type BuildWithRelay = (t: Test, relay: WebhookRelayOptions) => Promise<FastifyInstance>

interface Received { body: Record<string, any>, headers: IncomingHttpHeaders, res: ServerResponse }

/**
 * A webhook on a local port. `answer` gives the status of the nth request (from 1), or 'hold' to keep
 * it open; `next(n)` resolves once n requests arrived.
 */
async function webhook (t: Test, answer: (n: number) => number | 'hold') {
  const received: Received[] = []
  const waiters: Array<{ n: number, resolve: () => void }> = []
  const server = createServer((req, res) => {
    let raw = ''
    req.on('data', (chunk) => { raw += chunk })
    req.on('end', () => {
      received.push({ body: JSON.parse(raw), headers: req.headers, res })
      const status = answer(received.length)
      if (status !== 'hold') res.writeHead(status).end()
      for (const w of waiters.filter((w) => received.length >= w.n)) { waiters.splice(waiters.indexOf(w), 1); w.resolve() }
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const stop = () => { server.closeAllConnections(); server.close() }
  t.teardown(stop)
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    received,
    next: (n: number) => new Promise<void>((resolve) => { if (received.length >= n) resolve(); else waiters.push({ n, resolve }) }),
    /** The URL goes dead: open requests are cut and the port refuses connections. */
    stop
  }
}

async function postAs (app: FastifyInstance, user: string, channelId: string, content: string): Promise<{ id: string, position: Position }> {
  const res = await app.inject({ method: 'POST', url: '/api/messages', headers: { 'x-user-id': user }, payload: { channelId, content } })
  if (res.statusCode !== 201) throw new Error(`post failed: ${res.statusCode} ${res.body}`)
  return res.json()
}

const quick = { attempts: 3, backoffMs: [1] }

export function webhookRelaySuite (t: Test, build: BuildWithRelay) {
  t.test('new messages of the chosen channels reach the URL; other channels and other events do not', async (t) => {
    const hook = await webhook(t, () => 200)
    const app = await build(t, { url: hook.url, channels: ['hooks'], ...quick })
    const log = handledLog(app)
    const elsewhere = await postAs(app, 'ada', 'lobby', 'not forwarded')
    const forwarded = await postAs(app, 'ada', 'hooks', 'forwarded')
    await log.handled('messages-store', forwarded.position) // stored: now it can be edited
    const edit = await app.inject({ method: 'PATCH', url: `/api/messages/${forwarded.id}`, headers: { 'x-user-id': 'ada' }, payload: { content: 'edited' } })
    t.equal(edit.statusCode, 200, 'an edit (message.updated) is accepted')
    // the channel's events keep their order: once the relay is past `last`, it is past the edit
    const last = await postAs(app, 'ada', 'hooks', 'last')
    await Promise.all([log.handled('webhook-relay', elsewhere.position), log.handled('webhook-relay', last.position)])
    t.same(hook.received.map((r) => r.body.data.content), ['forwarded', 'last'], 'the chosen channel\'s new messages only: no other channel, no edit')
    const [{ body, headers }] = hook.received
    t.match(body, { v: 1, type: 'message.created', channelId: 'hooks', data: { id: forwarded.id, content: 'forwarded', senderId: 'ada' } })
    t.equal(headers['content-type'], 'application/json')
    t.equal(headers['x-switchboard-position'], `${forwarded.position.epoch}/${forwarded.position.offset}`)
  })

  t.test('a URL answering 500 twice, then 200, gets the event once, after the retries', async (t) => {
    const hook = await webhook(t, (n) => n <= 2 ? 500 : 200)
    const app = await build(t, { url: hook.url, channels: ['hooks'], attempts: 5, backoffMs: [1] })
    const log = handledLog(app)
    const first = await postAs(app, 'ada', 'hooks', 'third time lucky')
    await log.handled('webhook-relay', first.position)
    t.same(hook.received.map((r) => r.body.data.id), [first.id, first.id, first.id], 'two failures, then the one that took it')
    const second = await postAs(app, 'ada', 'hooks', 'next')
    await log.handled('webhook-relay', second.position)
    t.same(hook.received.map((r) => r.body.data.id), [first.id, first.id, first.id, second.id], 'taken once: never sent again after its 200')
  })

  t.test('a dead URL: the events end in messages.dlq, and meanwhile posts are stored, cached and in the recovery log', async (t) => {
    // The URL first hangs (the request is held open), then dies (connection refused): while the
    // relay is stuck on the first event, the channel's next post must go through the rest.
    const hook = await webhook(t, () => 'hold')
    const app = await build(t, { url: hook.url, channels: ['hooks'], ...quick, timeoutMs: 60_000 })
    const log = handledLog(app)
    const dlq = await readDeadLetters(t, app, 'messages')
    let relayed = 0
    app.topicHandlers.events.on('handled', (h) => { if (h.handler === 'webhook-relay') relayed++ })

    const stuck = await postAs(app, 'ada', 'hooks', 'to a dead URL')
    await hook.next(1)
    const meanwhile = await postAs(app, 'ada', 'hooks', 'meanwhile')
    await Promise.all(['messages-store', 'messages-cache', 'messages-recovery'].map((h) => log.handled(h, meanwhile.position)))
    const history = await app.inject({ url: '/api/channels/hooks/messages', headers: { 'x-user-id': 'ada' } })
    t.same(history.json().messages.map((m: any) => m.content), ['meanwhile', 'to a dead URL'], 'both posts are in the history')
    t.equal(relayed, 0, 'the relay is still on the first event (its request is held open)')

    hook.stop() // now connections are refused
    await Promise.all([log.handled('webhook-relay', stuck.position), log.handled('webhook-relay', meanwhile.position)])
    await dlq.until(() => dlq.letters.filter((l) => l.handler === 'webhook-relay').length === 2)
    const letters = dlq.letters.filter((l) => l.handler === 'webhook-relay')
    t.same(letters.map((l) => JSON.parse(l.payload).data.id), [stuck.id, meanwhile.id], 'each event once, in order')
    t.match(letters[1], { topic: 'messages', reason: /^failed 3 times: could not reach http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED/ })
    t.equal(hook.received.length, 1, 'the dead URL took nothing after the first (held) request')
  })
}
