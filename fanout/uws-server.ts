// The fanout's own WebSocket server on uWebSockets.js (WS_PORT, path /ws). Framework-free: it
// authenticates upgrades, feeds frames to the hub and publishes with uWS's native pub/sub.
import { createRequire } from 'node:module'
import type * as UWS from 'uWebSockets.js'
import type { FanoutHub } from './hub.ts'
import { CloseCodes } from './protocol.ts'
import { refusalName } from './auth.ts'
import type { Connection, FanoutLogger, Identity, SocketHandle, Transport } from './types.ts'

export interface UwsServerOptions {
  host: string
  /** 0 picks a free port; read the actual one from `server.port` */
  port: number
  hub: FanoutHub
  /** largest accepted client frame (bytes); up to 4× gets an error frame, beyond that uWS drops the socket */
  maxPayload: number
  /** bytes queued for one client before it is closed with 4008 */
  maxBackpressure: number
  /** seconds; 0 or at least 8 (uWS's timer resolution) */
  idleTimeout: number
  logger?: FanoutLogger
}

export interface UwsServer {
  readonly port: number
  /** closes every socket with 1001, then the listen socket */
  close (): Promise<void>
}

interface UserData { identity: Identity | undefined, ip: string, conn?: Connection, closed: boolean }
type Socket = UWS.WebSocket<UserData>
/** The handle this transport gives the hub: publish finds the socket of each subscriber through it. */
interface UwsHandle extends SocketHandle { readonly ws: Socket }

const require = createRequire(import.meta.url)

/**
 * Loads uWebSockets.js and refuses its JS fallback: the registry package silently swaps in a slow
 * implementation when the native binary cannot load (or UWS_USE_FALLBACK is set), and only the
 * native module exports getParts and SSLApp.
 */
export function loadNativeUws (): typeof UWS {
  const uWS = require('uWebSockets.js') as typeof UWS
  if (typeof uWS.getParts !== 'function' || typeof uWS.SSLApp !== 'function') {
    throw new Error(`uWebSockets.js native binary did not load (platform ${process.platform}-${process.arch}, Node ABI ${process.versions.modules}${process.env.UWS_USE_FALLBACK ? ', UWS_USE_FALLBACK is set' : ''}): the fanout refuses to run on the slow JS fallback`)
  }
  return uWS
}

export async function createUwsServer (opts: UwsServerOptions): Promise<UwsServer> {
  const { hub, maxBackpressure } = opts
  if (opts.idleTimeout !== 0 && opts.idleTimeout < 8) throw new Error(`idleTimeout must be 0 or at least 8 seconds (got ${opts.idleTimeout})`)
  const uWS = loadNativeUws()
  const log = opts.logger ?? hub.log
  let closing = false

  // uWS's own closeOnBackpressureLimit closes without a close frame (the client sees 1006), so we
  // enforce the limit ourselves after every send/publish and end() with 4008. getBufferedAmount is
  // updated synchronously by send and publish.
  const checkBackpressure = (ws: Socket): void => {
    const ud = ws.getUserData()
    if (!ud.closed && ud.conn && ws.getBufferedAmount() > maxBackpressure) hub.dropSlowClient(ud.conn)
  }

  const transport: Transport = {
    name: 'uws',
    // Subscriptions are the hub's record (`subscribers`) and uWS's native topics, which uWS needs
    // for its one-call publish; this transport keeps none of its own.
    publish (channel, frame, subscribers) {
      app.publish(channel, frame, false)
      let count = 0
      for (const subscriber of subscribers) {
        if (subscriber.transport !== 'uws') continue
        count++
        checkBackpressure((subscriber.handle as UwsHandle).ws)
      }
      return count
    }
  }

  const handleFor = (ws: Socket, ud: UserData): UwsHandle => ({
    ws,
    send (frame) {
      if (ud.closed) return
      ws.cork(() => ws.send(frame, false))
      checkBackpressure(ws)
    },
    buffered () { return ud.closed ? 0 : ws.getBufferedAmount() },
    subscribe (channel) {
      if (ud.closed) return
      ws.subscribe(channel)
    },
    unsubscribe (channel) {
      if (ud.closed) return
      ws.unsubscribe(channel)
    },
    close (code, reason) {
      if (ud.closed) return
      ws.end(code, reason) // runs the close handler below, synchronously
    }
  })

  const app = uWS.App().ws<UserData>('/ws', {
    maxPayloadLength: opts.maxPayload * 4,
    // Last resort only: above this uWS drops frames, so it sits well past our own limit.
    maxBackpressure: maxBackpressure * 2 + 1024 * 1024,
    closeOnBackpressureLimit: 1, // typed as a number; any truthy value enables it
    idleTimeout: opts.idleTimeout,
    sendPingsAutomatically: true,
    upgrade (res, req, context) {
      // req is only valid until the first await: copy everything out first (UpgradeAsync.js).
      const key = req.getHeader('sec-websocket-key')
      const protocol = req.getHeader('sec-websocket-protocol')
      const extensions = req.getHeader('sec-websocket-extensions')
      const token = req.getQuery('token') || undefined
      const user = req.getQuery('user') || undefined
      const ip = Buffer.from(res.getRemoteAddressAsText()).toString()
      const refuse = (err: Error): void => {
        log.debug({ err, ip }, 'websocket upgrade refused')
        const status = (err as { statusCode?: number }).statusCode ?? 401
        const body = JSON.stringify({ statusCode: status, error: refusalName(status), message: err.message })
        res.cork(() => { res.writeStatus(`${status} ${refusalName(status)}`).writeHeader('content-type', 'application/json').end(body, true) })
      }
      // Full: refuse before spending anything on the token (and again after, as others may have come in).
      if (hub.full) return refuse(hub.fullError())
      let aborted = false
      res.onAborted(() => { aborted = true })
      hub.authenticate({ token, user, ip }).then((identity) => {
        if (aborted) return
        if (closing) return res.cork(() => { res.writeStatus('503 Service Unavailable').end(undefined, true) })
        if (hub.full) return refuse(hub.fullError())
        // upgrade runs `open` synchronously, so the count checked above cannot be overtaken.
        res.cork(() => { res.upgrade<UserData>({ identity, ip, closed: false }, key, protocol, extensions, context) })
      }, (err: Error) => {
        if (aborted) return
        refuse(err)
      })
    },
    open (ws) {
      const ud = ws.getUserData()
      ud.conn = hub.connect(handleFor(ws, ud), 'uws', ud.identity, ud.ip)
    },
    message (ws, message, isBinary) {
      const ud = ws.getUserData()
      if (ud.conn) hub.handleFrame(ud.conn, message, isBinary) // message is only valid synchronously
    },
    close (ws, code) {
      const ud = ws.getUserData()
      ud.closed = true // uWS drops the socket's native topics itself
      if (ud.conn) hub.disconnect(ud.conn, code)
    }
  }).any('/*', (res) => { res.writeStatus('404 Not Found').end() })

  const listenSocket = await new Promise<UWS.us_listen_socket>((resolve, reject) => {
    app.listen(opts.host, opts.port, (socket) => {
      if (socket) resolve(socket)
      else reject(new Error(`uWebSockets.js could not listen on ${opts.host}:${opts.port}`))
    })
  })
  hub.addTransport(transport)
  return {
    port: uWS.us_socket_local_port(listenSocket),
    async close () {
      if (closing) return
      closing = true
      hub.removeTransport(transport)
      hub.closeAll(CloseCodes.GOING_AWAY, 'server shutting down', 'uws')
      uWS.us_listen_socket_close(listenSocket)
    }
  }
}
