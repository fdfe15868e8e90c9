// Every broker connection of one bus is made here, so that a closed bus keeps none. kafkajs goes on
// after a disconnect where we cannot reach it: a send we stopped waiting for (the produce deadline)
// retries and reconnects, and a consumer runner stopped while it was joining starts fetching once
// joined. After a broker failover their sockets kept a closed app's process alive
// (test/failover/broker-loss.test.ts). Once the bus has closed what it holds (consumers stopped,
// producer and admin disconnected), `end` destroys the connections still open, and from then on a
// connection fails at once: what kafkajs still retries gives up.
import net from 'node:net'
import tls from 'node:tls'
import type { ISocketFactory } from 'kafkajs'

/** kafkajs's own keep-alive on broker connections. */
const KEEP_ALIVE_DELAY_MS = 60_000

/** kafkajs's socket factory (kafkajs/src/network/socketFactory.js), for when none is given. */
const connect: ISocketFactory = ({ host, port, ssl, onConnect }) => {
  const socket = ssl
    ? tls.connect({ host, port, ...(net.isIP(host) ? {} : { servername: host }), ...ssl }, onConnect)
    : net.connect({ host, port }, onConnect)
  socket.setKeepAlive(true, KEEP_ALIVE_DELAY_MS)
  return socket
}

export function createSockets (inner: ISocketFactory = connect) {
  const open = new Set<net.Socket>()
  let ended = false
  const factory: ISocketFactory = (options) => {
    if (ended) {
      const refused = new net.Socket()
      process.nextTick(() => refused.destroy(new Error('the Kafka bus is closed')))
      return refused
    }
    const socket = inner(options)
    open.add(socket)
    socket.once('close', () => open.delete(socket))
    return socket
  }
  return {
    factory,
    /** Connections made and not closed yet. */
    get open () { return open.size },
    /**
     * The bus has closed: ends what is still open, and refuses every later connection. kafkajs
     * hears of a socket's end ('end'), not of its destruction ('close'): told only by a destroy,
     * its connection stays "connected" and its request-timeout check (kafkajs-patches.ts, a ref'd
     * timer) runs for good, keeping the process alive. So it is told the server closed it, then the
     * socket is destroyed.
     */
    end () {
      ended = true
      for (const socket of open) {
        socket.emit('end')
        socket.destroy()
      }
    }
  }
}
