import fp from 'fastify-plugin'
import websocket from '@fastify/websocket'
import type { FastifyRequest } from 'fastify'
import type { Config } from '../config.ts'
import { FanoutHub, type FanoutHooks, type FanoutStats, type Identity, type PublishResult } from '../fanout/hub.ts'
import { CloseCodes } from '../fanout/protocol.ts'
import { createUwsServer, type UwsServer } from '../fanout/uws-server.ts'
import { createWsTransport } from '../fanout/ws-transport.ts'
import { defaultMaxConnections, openFileLimit } from '../fanout/fd-limit.ts'
import type { Position } from '../schemas/message.ts'

/** What the fanout plugin decorates the app with. */
export interface Fanout {
  readonly hub: FanoutHub
  /** Delivers an event to every subscriber of the channel on both ports; says what it did. */
  publish (channel: string, type: string, data: unknown, position?: Position): PublishResult
  /** The uWS port actually listened on (WS_PORT, or the one picked for 0); known once the app is ready. */
  readonly uwsPort: number
  readonly stats: FanoutStats
}

declare module 'fastify' {
  interface FastifyInstance { fanout: Fanout }
}

export interface FanoutPluginOptions {
  /** Hooks known at registration; plugins registered later use `app.fanout.hub.addHook()` (notifications) or `setDecision()` (decisions). */
  hooks?: Partial<FanoutHooks>
  /** false serves /ws on the API port only (no uWS server); default true */
  uws?: boolean
  /** false: no WebSocket server at all (a process without the `fanout` role); default true */
  serve?: boolean
}

/**
 * The fanout: one hub, two transports. uWebSockets.js on WS_PORT (the fast path) and
 * @fastify/websocket at /ws on the API port (same protocol, one port for simple deployments).
 */
export default fp<FanoutPluginOptions>(async function fanout (app, opts) {
  const config = (app as unknown as { config?: Config }).config
  if (!config) throw new Error('fanout: app.config is missing; decorate it with loadConfig() before registering fanout')
  const log = app.log.child({ component: 'fanout' })
  const fileLimit = config.WS_MAX_CONNECTIONS === 0 ? openFileLimit() : undefined
  const maxConnections = config.WS_MAX_CONNECTIONS || defaultMaxConnections(fileLimit)
  log.info({ maxConnections, openFileLimit: fileLimit }, `fanout: at most ${maxConnections} WebSocket connections on this instance${config.WS_MAX_CONNECTIONS ? '' : ' (below the open-file limit)'}`)
  const hub = new FanoutHub({
    hooks: opts.hooks,
    maxConnections,
    maxPayload: config.WS_MAX_PAYLOAD,
    maxSubscriptions: config.WS_MAX_SUBSCRIPTIONS,
    logger: log,
    frameBudget: { rate: config.WS_FRAME_RATE, burst: config.WS_FRAME_BURST },
    // A replay is sent in one synchronous burst: it must leave room for live traffic in the send buffer.
    maxReplayBytes: Math.floor(config.WS_MAX_BACKPRESSURE / 2)
  })
  const wsTransport = createWsTransport({ hub, maxBackpressure: config.WS_MAX_BACKPRESSURE, idleTimeout: config.WS_IDLE_TIMEOUT })
  let uws: UwsServer | undefined

  app.decorate('fanout', {
    hub,
    publish: (channel: string, type: string, data: unknown, position?: Position) => hub.publish(channel, type, data, position),
    get uwsPort (): number {
      if (!uws) throw new Error('fanout: the uWS port is known once the app is ready (and only with uws enabled)')
      return uws.port
    },
    stats: hub.stats
  } satisfies Fanout)

  // uWS listens in onReady, not at registration: auth hooks set by plugins registered after this
  // one must be in place before the port accepts anyone, and a failed boot leaves no port open.
  const serve = opts.serve !== false
  if (serve && opts.uws !== false) {
    app.addHook('onReady', async function listenFanout () {
      uws = await createUwsServer({
        host: config.HOST,
        port: config.WS_PORT,
        hub,
        maxPayload: config.WS_MAX_PAYLOAD,
        maxBackpressure: config.WS_MAX_BACKPRESSURE,
        idleTimeout: config.WS_IDLE_TIMEOUT,
        logger: log
      })
      log.info({ port: uws.port }, `fanout: uWebSockets.js listening on ${config.HOST}:${uws.port}/ws`)
    })
  }

  if (!serve) {
    log.info('fanout: no WebSocket server in this process (ROLES without fanout)')
    return
  }

  // Sockets keep the process alive: close them (1001) in preClose, before the server stops.
  await app.register(websocket, {
    // Frames up to 4 × WS_MAX_PAYLOAD get a frame_too_large error frame; beyond that ws closes with 1009.
    options: { maxPayload: config.WS_MAX_PAYLOAD * 4 },
    preClose (done) {
      wsTransport.close()
      for (const client of this.websocketServer.clients) client.close(CloseCodes.GOING_AWAY, 'server shutting down')
      this.websocketServer.close()
      done()
    }
  })
  app.addHook('preClose', async () => { await uws?.close() })

  // Authenticate before the upgrade, so a bad token gets a 401 response and never a socket.
  const identities = new WeakMap<FastifyRequest, Identity | undefined>()
  app.get('/ws', {
    websocket: true,
    onRequest: async (request) => {
      if (hub.full) throw hub.fullError()
      const query = request.query as Record<string, unknown>
      const text = (v: unknown) => typeof v === 'string' && v !== '' ? v : undefined // ?a=1&a=2 gives an array
      identities.set(request, await hub.authenticate({ token: text(query.token), user: text(query.user), ip: request.ip }))
      // Checked again after the await; upgrades racing through later hooks can still overshoot by a few.
      if (hub.full) throw hub.fullError()
    }
  }, (socket, request) => {
    wsTransport.accept(socket, identities.get(request), request.ip)
  })
}, { name: 'fanout' })
