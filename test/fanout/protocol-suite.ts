// Protocol v1 as a client sees it, run against every transport (uWS alone, and both plugin ports).
import type { Test } from 'tap'
import { TypeCompiler } from '@sinclair/typebox/compiler'
import { CloseCodes, ServerFrame } from '../../fanout/protocol.ts'
import { TestClient, tick, type Target } from './helpers.ts'

const serverFrame = TypeCompiler.Compile(ServerFrame)

/** `oversizeClose`: what the client sees for a frame above the transport's hard cap (4 × maxPayload). */
export function protocolSuite (t: Test, makeTarget: (t: Test) => Promise<Target>, oversizeClose: number) {
  t.test('connect gives ready; ?user= names the user when no authenticate hook is set', async (t) => {
    const target = await makeTarget(t)
    const anon = await TestClient.open(target.url)
    const alice = await TestClient.open(target.url, '?user=alice')
    t.match(anon.frames[0], { op: 'ready', protocol: 1, connectionId: String })
    t.notOk('user' in anon.frames[0])
    t.equal(alice.frames[0].user, 'alice')
    t.ok(serverFrame.Check(alice.frames[0]))
    anon.close(); alice.close()
  })

  t.test('an event reaches each subscriber of its channel exactly once, and no one else', async (t) => {
    const target = await makeTarget(t)
    const [a, b, other] = await Promise.all([1, 2, 3].map(() => TestClient.open(target.url)))
    t.same(await a.subscribe('general'), { op: 'subscribed', channel: 'general', position: null, recovered: false })
    await b.subscribe('general')
    await other.subscribe('random')
    const position = { epoch: 'e1', offset: '7' }
    t.same(target.hub.publish('general', 'message.created', { id: 'm1', content: 'hi' }, position), { outcome: 'sent', deliveries: 2 })
    await Promise.all([a.barrier(), b.barrier(), other.barrier()])
    const expected = { op: 'event', channel: 'general', position, type: 'message.created', data: { id: 'm1', content: 'hi' } }
    t.same(a.events(), [expected])
    t.same(b.events(), [expected])
    t.same(other.events(), [])
    t.ok(serverFrame.Check(a.events()[0]))
    // A later subscriber learns the channel's position; `since` is not recovered yet.
    const late = await TestClient.open(target.url)
    t.same(await late.subscribe('general', { epoch: 'e1', offset: '3' }), { op: 'subscribed', channel: 'general', position, recovered: false })
    for (const c of [a, b, other, late]) c.close()
  })

  t.test('unsubscribe stops delivery; ping gets pong', async (t) => {
    const target = await makeTarget(t)
    const c = await TestClient.open(target.url)
    await c.subscribe('general')
    c.send({ op: 'unsubscribe', channel: 'general' })
    c.send({ op: 'unsubscribe', channel: 'general' })
    t.match(await c.next((f) => f.op === 'error'), { code: 'not_subscribed' })
    target.hub.publish('general', 'typing', { userId: 'x' })
    c.send({ op: 'ping' })
    t.same(await c.next(), { op: 'pong' })
    t.same(c.events(), [])
    c.close()
  })

  t.test('bad frames get error frames and the connection keeps serving', async (t) => {
    const target = await makeTarget(t)
    const [c, bystander] = await Promise.all([TestClient.open(target.url), TestClient.open(target.url)])
    await bystander.subscribe('general')
    const cases: Array<[string, string]> = [
      ['{not json', 'bad_json'],
      ['[1,2]', 'bad_frame'],
      ['{"op":"dance"}', 'unknown_op'],
      ['{"op":"subscribe"}', 'bad_channel'],
      ['{"op":"subscribe","channel":"no spaces allowed"}', 'bad_channel'],
      [JSON.stringify({ op: 'subscribe', channel: 'x'.repeat(129) }), 'bad_channel'],
      ['{"op":"subscribe","channel":"ok","since":{"epoch":"e","offset":"-1"}}', 'bad_frame'],
      [JSON.stringify({ op: 'ping', pad: 'x'.repeat(target.maxPayload) }), 'frame_too_large']
    ]
    for (const [frame, code] of cases) {
      c.send(frame)
      const error = await c.next()
      t.match(error, { op: 'error', code, message: String }, frame.slice(0, 60))
      t.ok(serverFrame.Check(error))
    }
    await c.barrier()
    target.hub.publish('general', 'typing', { userId: 'x' })
    await bystander.barrier()
    t.equal(bystander.events().length, 1)
    c.close(); bystander.close()
  })

  t.test('a frame above the hard cap closes only that connection', async (t) => {
    const target = await makeTarget(t)
    const [c, bystander] = await Promise.all([TestClient.open(target.url), TestClient.open(target.url)])
    c.send(JSON.stringify({ op: 'ping', pad: 'x'.repeat(target.maxPayload * 4) }))
    t.equal((await c.closed).code, oversizeClose)
    await bystander.barrier()
    bystander.close()
  })

  t.test(`a slow client is closed with ${CloseCodes.SLOW_CONSUMER}; a fast one gets every event`, async (t) => {
    const target = await makeTarget(t)
    const [slow, fast] = await Promise.all([TestClient.open(target.url), TestClient.open(target.url)])
    await slow.subscribe('busy')
    await fast.subscribe('busy')
    const paused = (slow.ws as unknown as { _socket: { pause (): void, resume (): void } })._socket
    paused.pause() // stops reading: kernel buffers fill, then the server's send queue grows
    const dropped = target.hub.stats.slowClientsDropped
    const payload = 'x'.repeat(16 * 1024)
    let sent = 0
    // One frame per turn of the event loop, so the fast client drains as it goes; bounded, no sleep.
    while (target.hub.stats.slowClientsDropped === dropped && sent < 20000) {
      target.hub.publish('busy', 'typing', { n: sent++, payload })
      await tick()
    }
    t.equal(target.hub.stats.slowClientsDropped, dropped + 1)
    target.hub.publish('busy', 'typing', { n: sent++, payload: 'after the drop' })
    paused.resume()
    t.match(await slow.closed, { code: CloseCodes.SLOW_CONSUMER, reason: 'slow consumer' })
    t.ok(slow.events('busy').length < sent, 'nothing is sent to a dropped client')
    await fast.barrier()
    t.same(fast.events('busy').map((f) => f.data.n), Array.from({ length: sent }, (_, i) => i), 'the fast client got every event, in order')
    fast.close()
  })
}
