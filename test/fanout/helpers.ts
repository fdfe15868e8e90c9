// Real WebSocket clients and servers on port 0 for the fanout tests. No sleeps: everything awaits events.
import type { AddressInfo } from 'node:net'
import Fastify from 'fastify'
import WebSocket from 'ws'
import { loadConfig, type Config } from '../../config.ts'
import { FanoutHub } from '../../fanout/hub.ts'
import type { FanoutHubOptions } from '../../fanout/types.ts'
import { createUwsServer } from '../../fanout/uws-server.ts'
import fanout, { type FanoutPluginOptions } from '../../plugins/fanout.ts'

type Test = { teardown (fn: () => unknown): void }

export type Frame = Record<string, any>

/** A server speaking protocol v1 at `url` (ws://…/ws), backed by `hub`. */
export interface Target { name: string, url: string, hub: FanoutHub, maxPayload: number, maxBackpressure: number }

export const LIMITS = { maxPayload: 1024, maxBackpressure: 64 * 1024 }

export async function uwsTarget (t: Test, hubOpts: FanoutHubOptions = {}): Promise<Target> {
  const hub = new FanoutHub({ maxPayload: LIMITS.maxPayload, ...hubOpts })
  const server = await createUwsServer({ host: '127.0.0.1', port: 0, hub, idleTimeout: 0, ...LIMITS })
  t.teardown(() => server.close())
  return { name: 'uws', url: `ws://127.0.0.1:${server.port}/ws`, hub, ...LIMITS }
}

export function testConfig (overrides: Partial<Config> = {}): Config {
  return loadConfig({}, {
    HOST: '127.0.0.1',
    PORT: 0,
    WS_PORT: 0,
    LOG_LEVEL: 'silent',
    WS_IDLE_TIMEOUT: 0,
    WS_MAX_PAYLOAD: LIMITS.maxPayload,
    WS_MAX_BACKPRESSURE: LIMITS.maxBackpressure,
    ...overrides
  })
}

/** A Fastify app with only the fanout plugin, listening on port 0 for both transports. */
export async function buildApp (t: Test, opts: FanoutPluginOptions = {}, config: Partial<Config> = {}) {
  const app = Fastify()
  app.decorate('config', testConfig(config))
  await app.register(fanout, opts)
  await app.listen({ host: '127.0.0.1', port: 0 })
  t.teardown(() => app.close())
  const apiPort = (app.server.address() as AddressInfo).port
  const target = (name: 'uws' | 'fastify'): Target => ({
    name: `plugin ${name}`,
    url: `ws://127.0.0.1:${name === 'uws' ? app.fanout.uwsPort : apiPort}/ws`,
    hub: app.fanout.hub,
    ...LIMITS
  })
  return { app, apiPort, target }
}

/** A client that queues every frame it receives, so tests can await the next one that matches. */
export class TestClient {
  readonly frames: Frame[] = []
  readonly #queue: Frame[] = []
  readonly #waiters: Array<{ match: (f: Frame) => boolean, resolve: (f: Frame) => void }> = []
  readonly closed: Promise<{ code: number, reason: string }>

  constructor (readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const frame = JSON.parse(data.toString()) as Frame
      this.frames.push(frame)
      const i = this.#waiters.findIndex((w) => w.match(frame))
      if (i === -1) this.#queue.push(frame)
      else this.#waiters.splice(i, 1)[0].resolve(frame)
    })
    this.closed = new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })))
  }

  /** Opens a connection and waits for its `ready` frame. */
  static async open (url: string, query = ''): Promise<TestClient> {
    const client = new TestClient(new WebSocket(url + query))
    await client.next((f) => f.op === 'ready')
    return client
  }

  /** The oldest unread frame that matches (any frame by default), now or when it arrives. */
  next (match: (f: Frame) => boolean = () => true): Promise<Frame> {
    const i = this.#queue.findIndex(match)
    if (i !== -1) return Promise.resolve(this.#queue.splice(i, 1)[0])
    return new Promise((resolve) => this.#waiters.push({ match, resolve }))
  }

  send (frame: Frame | string): void { this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame)) }

  async subscribe (channel: string, since?: Frame): Promise<Frame> {
    this.send({ op: 'subscribe', channel, since })
    return this.next((f) => (f.op === 'subscribed' && f.channel === channel) || f.op === 'error')
  }

  /** Ping/pong round trip: every frame the server sent before the pong has been received. */
  async barrier (): Promise<void> {
    this.send({ op: 'ping' })
    await this.next((f) => f.op === 'pong')
  }

  events (channel?: string): Frame[] { return this.frames.filter((f) => f.op === 'event' && (!channel || f.channel === channel)) }

  close (): void { this.ws.close() }
}

/** The HTTP status of a refused upgrade. */
export function upgradeStatus (url: string): Promise<{ status: number, body: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url)
    ws.on('unexpected-response', (req, res) => {
      let body = ''
      const socket = req.socket // a refused upgrade is a plain HTTP response: drop its connection
      res.on('data', (chunk: Buffer) => { body += chunk.toString() })
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, body }); socket?.destroy() })
    })
    ws.on('open', () => { ws.close(); reject(new Error('upgrade unexpectedly accepted')) })
    ws.on('error', () => {}) // the unexpected-response path reports the status
  })
}

export const tick = () => new Promise((resolve) => setImmediate(resolve))
