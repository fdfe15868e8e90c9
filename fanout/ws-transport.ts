// The same protocol over `ws` sockets, for the API port (@fastify/websocket hands us its sockets).
// Framework-free like the rest of fanout/: the Fastify route that accepts sockets is in plugins/.
import type { WebSocket, RawData } from 'ws'
import type { FanoutHub } from './hub.ts'
import { CloseCodes } from './protocol.ts'
import type { Connection, Identity, SocketHandle, Transport } from './types.ts'

export interface WsTransportOptions {
  hub: FanoutHub
  /** bytes queued for one client before it is closed with 4008 */
  maxBackpressure: number
  /** seconds without a pong before a socket is dropped (0 = never); a ping goes out every half */
  idleTimeout: number
}

export interface WsTransport {
  /** Takes over an open, already authenticated socket. */
  accept (socket: WebSocket, identity: Identity | undefined, ip: string): Connection
  /** closes every socket with 1001 and stops the heartbeat */
  close (): void
}

interface Entry { socket: WebSocket, conn?: Connection, alive: boolean, closed: boolean }
/** The handle this transport gives the hub: publish finds the entry of each subscriber through it. */
interface WsHandle extends SocketHandle { readonly entry: Entry }

export function createWsTransport ({ hub, maxBackpressure, idleTimeout }: WsTransportOptions): WsTransport {
  const entries = new Set<Entry>()

  // ws has no backpressure limit of its own: check what is queued after every send.
  const send = (entry: Entry, frame: string | Buffer): void => {
    if (entry.closed) return
    entry.socket.send(frame, { binary: false })
    if (entry.socket.bufferedAmount > maxBackpressure && entry.conn) hub.dropSlowClient(entry.conn)
  }

  const release = (entry: Entry): void => {
    entry.closed = true
    entries.delete(entry)
  }

  const transport: Transport = {
    name: 'fastify',
    // Subscriptions are the hub's record (`subscribers`); this transport keeps none of its own.
    publish (_channel, frame, subscribers) {
      let bytes: Buffer | undefined // encoded once for all sockets, not once per send
      let count = 0
      for (const subscriber of subscribers) {
        if (subscriber.transport !== 'fastify') continue
        count++
        send((subscriber.handle as WsHandle).entry, bytes ??= Buffer.from(frame))
      }
      return count
    }
  }
  hub.addTransport(transport)

  // Heartbeat: a peer that vanished without a FIN would otherwise hold its subscriptions forever.
  const heartbeat = idleTimeout > 0
    ? setInterval(() => {
      for (const entry of entries) {
        if (!entry.alive) {
          // A close frame with the documented code, then the socket is dropped at once: a peer that
          // answers no ping will not complete the closing handshake either.
          entry.socket.close(CloseCodes.IDLE_TIMEOUT, 'idle timeout')
          entry.socket.terminate()
          continue
        }
        entry.alive = false
        entry.socket.ping()
      }
    }, idleTimeout * 500).unref()
    : undefined

  return {
    accept (socket, identity, ip) {
      const entry: Entry = { socket, alive: true, closed: false }
      const handle: WsHandle = {
        entry,
        send: (frame) => send(entry, frame),
        buffered: () => entry.closed ? 0 : socket.bufferedAmount,
        subscribe () {}, // the hub's record is the only one: publish reads it
        unsubscribe () {},
        close (code, reason) {
          if (entry.closed) return
          release(entry)
          socket.close(code, reason) // the close frame queues behind what the client has not read yet
        }
      }
      entries.add(entry)
      const conn = entry.conn = hub.connect(handle, 'fastify', identity, ip)
      socket.on('message', (data: RawData, isBinary: boolean) => {
        entry.alive = true
        hub.handleFrame(conn, Array.isArray(data) ? Buffer.concat(data) : data, isBinary)
      })
      socket.on('pong', () => { entry.alive = true })
      socket.on('close', (code: number) => {
        release(entry)
        hub.disconnect(conn, code)
      })
      return conn
    },
    close () {
      clearInterval(heartbeat)
      hub.removeTransport(transport)
      hub.closeAll(CloseCodes.GOING_AWAY, 'server shutting down', 'fastify')
    }
  }
}
