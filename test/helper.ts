// Builds the app for a test and closes it in teardown (the fastify/demo pattern).
import { once } from 'node:events'
import type { Test } from 'tap'
import Fastify, { type FastifyInstance, type FastifyPluginAsync } from 'fastify'
import WebSocket from 'ws'
import App, { serverOptions, type AppOptions } from '../app.ts'
import { loadConfig, type Config } from '../config.ts'
import type { HandledRecord } from '../plugins/topic-handlers.ts'
import type { PresenceUpdate } from '../plugins/presence/index.ts'
import type { Position } from '../schemas/message.ts'

/** The app, ready; `plugin` is registered after switchboard's, as an embedding server registers its own. */
export async function build (t: Test, config: Partial<Config> = {}, opts: Partial<AppOptions> = {}, plugin?: FastifyPluginAsync): Promise<FastifyInstance> {
  // load shedding off unless a test turns it on: a busy test machine must not shed test requests
  const resolved = loadConfig({}, { PORT: 0, WS_PORT: 0, LOG_LEVEL: 'silent', SHED_EVENT_LOOP_DELAY_MS: 0, SHED_EVENT_LOOP_UTILIZATION: 0, ...config })
  const app = Fastify({ ...serverOptions(resolved), logger: false })
  await app.register(App, { config: resolved, ...opts })
  if (plugin) await app.register(plugin)
  track(app)
  t.teardown(() => app.close())
  await app.ready()
  return app
}

const tracked = new WeakMap<FastifyInstance, HandledRecord[]>()

/** Records every handled event from now on, so `handled` also finds events that came before it was called. */
export function track (app: FastifyInstance) {
  if (tracked.has(app)) return
  const seen: HandledRecord[] = []
  tracked.set(app, seen)
  app.topicHandlers.events.on('handled', (h) => seen.push(h))
}

/** Resolves once `handler` has handled the record at `position` (waits for the event, never for time). */
export function handled (app: FastifyInstance, handler: string, position: Position): Promise<HandledRecord> {
  const matches = (h: HandledRecord) => h.handler === handler && h.epoch === position.epoch && h.offset === position.offset
  const earlier = tracked.get(app)?.find(matches)
  if (earlier) return Promise.resolve(earlier)
  return new Promise((resolve) => {
    const listener = (h: HandledRecord) => {
      if (matches(h)) {
        app.topicHandlers.events.off('handled', listener)
        resolve(h)
      }
    }
    app.topicHandlers.events.on('handled', listener)
  })
}

/** A WebSocket test client that queues frames so a test can await the next one of a kind. */
export class Client {
  readonly frames: Array<Record<string, any>> = []
  private waiters: Array<{ match: (f: Record<string, any>) => boolean, resolve: (f: Record<string, any>) => void }> = []
  private seen = 0
  private constructor (readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const frame = JSON.parse(data.toString())
      this.frames.push(frame)
      this.waiters = this.waiters.filter((w) => { if (w.match(frame)) { w.resolve(frame); return false } return true })
    })
  }

  static async connect (url: string): Promise<Client> {
    const ws = new WebSocket(url)
    const client = new Client(ws)
    await once(ws, 'open')
    return client
  }

  send (frame: unknown) { this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame)) }

  /** The next frame (after the last one returned) that matches. */
  next (match: (f: Record<string, any>) => boolean = () => true): Promise<Record<string, any>> {
    for (let i = this.seen; i < this.frames.length; i++) {
      if (match(this.frames[i])) { this.seen = i + 1; return Promise.resolve(this.frames[i]) }
    }
    return new Promise((resolve) => {
      this.waiters.push({ match, resolve: (f) => { this.seen = this.frames.length; resolve(f) } })
    })
  }

  async subscribe (channel: string, since?: Position) {
    this.send({ op: 'subscribe', channel, ...(since ? { since } : {}) })
    return this.next((f) => (f.op === 'subscribed' || f.op === 'error') && (f.channel === channel || f.op === 'error'))
  }

  async close () {
    if (this.ws.readyState === WebSocket.CLOSED) return
    const closed = once(this.ws, 'close')
    this.ws.close()
    await closed
  }
}

/** A client on the app's uWS port (as `user` when given), closed in teardown, with its connection id. */
export async function connectAs (app: FastifyInstance, t: Test, user?: string) {
  const client = await Client.connect(`ws://127.0.0.1:${app.fanout.uwsPort}/ws${user ? `?user=${user}` : ''}`)
  t.teardown(() => client.close())
  const ready = await client.next((f) => f.op === 'ready')
  return { client, id: ready.connectionId as string }
}

/** Resolves with the next presence change of `connectionId` this app writes. */
export function presenceUpdate (app: FastifyInstance, connectionId: string): Promise<PresenceUpdate> {
  return new Promise((resolve) => {
    const listener = (u: PresenceUpdate) => {
      if (u.connectionId !== connectionId) return
      app.presence.events.off('updated', listener)
      resolve(u)
    }
    app.presence.events.on('updated', listener)
  })
}
