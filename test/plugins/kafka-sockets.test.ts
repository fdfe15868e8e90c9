// plugins/bus/kafka/sockets.ts: a closed bus keeps no broker connection, and makes none after.
import t from 'tap'
import net from 'node:net'
import { once } from 'node:events'
import type { ISocketFactory, ISocketFactoryArgs } from 'kafkajs'
import { createSockets } from '../../plugins/bus/kafka/sockets.ts'

/** What kafkajs passes for a plain connection (no TLS: `ssl` unset). */
const plain = (port: number, onConnect: () => void) => ({ host: '127.0.0.1', port, onConnect }) as ISocketFactoryArgs

t.test('end() destroys the connections still open, and every later connection fails at once without being made', async (t) => {
  const server = net.createServer((s) => { s.on('error', () => {}) })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => server.close())
  const { port } = server.address() as net.AddressInfo
  let made = 0
  const inner: ISocketFactory = (options) => { made++; return net.connect({ host: options.host, port: options.port }, options.onConnect) }
  const sockets = createSockets(inner)

  // what kafkajs still holds after its disconnect: a connected socket nobody closes
  const held = sockets.factory(plain(port, () => {}))
  await once(held, 'connect')
  t.equal(sockets.open, 1, 'one connection open')
  let told = false
  held.on('end', () => { told = true }) // what kafkajs's connection listens to (not 'close')
  const closed = once(held, 'close')
  sockets.end()
  await closed
  t.ok(held.destroyed, 'the bus ended: the connection still open is destroyed')
  t.ok(told, 'and kafkajs is told it ended: its connection and request-timeout check stop')
  t.equal(sockets.open, 0, 'none open')

  // what kafkajs retries after that: refused, without connecting
  const late = sockets.factory(plain(port, () => t.fail('a connection after end')))
  const [err] = await once(late, 'error') as [Error]
  t.match(err.message, /the Kafka bus is closed/, 'a later connection fails with the reason')
  t.equal(made, 1, 'and is never made')
})

t.test('without a factory given, connections are kafkajs\'s own (plain TCP with keep-alive)', async (t) => {
  const server = net.createServer((s) => { s.on('error', () => {}) })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => server.close())
  const sockets = createSockets()
  let connected = false
  const socket = sockets.factory(plain((server.address() as net.AddressInfo).port, () => { connected = true }))
  await once(socket, 'connect')
  t.ok(connected, 'onConnect is called')
  sockets.end()
  await once(socket, 'close')
  t.equal(sockets.open, 0)
})
