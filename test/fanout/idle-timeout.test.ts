// A client that stops answering pings (a raw ws with autoPong off) is closed once WS_IDLE_TIMEOUT
// (8 s, the least uWS accepts) passes: on the API port with close code 4408 (idle timeout), on the
// uWS port with no close frame (uWS drops the TCP connection itself: the client sees 1006). A client
// that answers pings stays open meanwhile.
import { once } from 'node:events'
import t from 'tap'
import WebSocket from 'ws'
import { CloseCodes } from '../../fanout/protocol.ts'
import { buildApp } from './helpers.ts'

const IDLE = 8

t.test('sockets that never answer a ping are closed after WS_IDLE_TIMEOUT', async (t) => {
  const { target, app } = await buildApp(t, {}, { WS_IDLE_TIMEOUT: IDLE })
  const open = async (url: string, autoPong: boolean) => {
    const ws = new WebSocket(url, { autoPong })
    t.teardown(() => ws.terminate())
    const closed = once(ws, 'close') as Promise<[number, Buffer]>
    let pings = 0
    ws.on('ping', () => { pings++ })
    await once(ws, 'open')
    return { ws, closed, pings: () => pings }
  }
  const [fastify, uws, answering] = await Promise.all([
    open(target('fastify').url, false),
    open(target('uws').url, false),
    open(target('fastify').url, true)
  ])
  t.equal(app.fanout.hub.stats.connections.fastify, 2)

  const [code, reason] = await fastify.closed
  t.equal(code, CloseCodes.IDLE_TIMEOUT, 'API port: 4408')
  t.equal(reason.toString(), 'idle timeout')
  t.ok(fastify.pings() > 0, 'it was pinged first')
  t.equal((await uws.closed)[0], 1006, 'uWS port: no close frame')
  t.ok(uws.pings() > 0, 'uWS pinged it first')
  t.equal(answering.ws.readyState, WebSocket.OPEN, 'a client that answers pings stays open')
  t.ok(answering.pings() > 0, 'and was pinged too')
  t.equal(app.fanout.hub.stats.connections.fastify, 1, 'the hub forgot the silent socket')
  t.equal(app.fanout.hub.stats.connections.uws, 0)
})
