// HTTP connections against the open-file budget (issue 24, N8). Every socket is an open file, and a
// process at its limit fails accept() in a loop: 100 % CPU, /health and the WebSocket port
// unanswered. WS_MAX_CONNECTIONS keeps WebSockets below the limit; this caps the rest of the API
// port's connections (upgraded WebSockets aside: the hub counts those) within the reserve they
// leave. At the cap the connection idle the longest is closed to make room, so /health and upgrades
// still answer while idle sockets pile up; only when every connection is busy with a request is the
// new one refused. The timeouts in app.ts serverOptions close idle sockets below the cap.
import type { Socket } from 'node:net'
import fp from 'fastify-plugin'
import { defaultHttpConnections, openFileLimit } from '../fanout/fd-limit.ts'

/** `open`: HTTP connections now; `evicted`: idle ones closed to make room; `refused`: new ones closed as every one was busy. */
export interface HttpConnectionStats { readonly open: number, readonly evicted: number, readonly refused: number }

declare module 'fastify' {
  interface FastifyInstance { httpConnections: { readonly max: number, readonly stats: HttpConnectionStats } }
}

export default fp(async function httpConnections (app) {
  const { config, server } = app
  const fileLimit = config.HTTP_MAX_CONNECTIONS === 0 ? openFileLimit() : undefined
  const max = config.HTTP_MAX_CONNECTIONS || defaultHttpConnections(fileLimit)
  /** Connections with no request in flight, the one idle the longest first (a Set keeps insertion order). */
  const idle = new Set<Socket>()
  /** Connections with requests in flight, and how many. */
  const busy = new Map<Socket, number>()
  const counts = { evicted: 0, refused: 0 }
  const forget = (socket: Socket) => { idle.delete(socket); busy.delete(socket) }

  server.on('connection', (socket: Socket) => {
    if (idle.size + busy.size >= max) {
      const oldest = idle.values().next().value
      if (oldest) {
        counts.evicted++
        forget(oldest)
        oldest.destroy()
      } else {
        counts.refused++
        socket.destroy()
        return
      }
    }
    idle.add(socket)
    socket.once('close', () => forget(socket))
  })
  server.on('request', (req: { socket: Socket }, res: { once (event: 'close', fn: () => void): void }) => {
    const { socket } = req
    const inFlight = busy.get(socket)
    if (inFlight === undefined && !idle.delete(socket)) return // not counted (closed meanwhile)
    busy.set(socket, (inFlight ?? 0) + 1)
    res.once('close', () => {
      const left = (busy.get(socket) ?? 0) - 1
      if (left > 0) busy.set(socket, left)
      else if (busy.delete(socket) && !socket.destroyed) idle.add(socket) // idle again, the most recently
    })
  })
  // A WebSocket now: the hub counts it against WS_MAX_CONNECTIONS.
  server.on('upgrade', (req: { socket: Socket }) => forget(req.socket))

  // Backstop at the kernel's door: Node closes a connection past HTTP and WebSocket caps together.
  const websockets = app.hasDecorator('fanout') ? app.fanout.hub.maxConnections : 0
  server.maxConnections = max + websockets
  app.decorate('httpConnections', {
    max,
    stats: { get open () { return idle.size + busy.size }, get evicted () { return counts.evicted }, get refused () { return counts.refused } }
  })
  app.log.info({ maxHttpConnections: max, openFileLimit: fileLimit }, `at most ${max} HTTP connections besides WebSockets${config.HTTP_MAX_CONNECTIONS ? '' : ' (within the open-file reserve)'}; the idle longest gives way past it`)
}, { name: 'http-connections', dependencies: ['fanout'] })
