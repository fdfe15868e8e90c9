// What the client tests share: a switchboard listening on loopback, clients of it closed in
// teardown, and a stream model that fails on a duplicate or a missing message.
import net from 'node:net'
import { once } from 'node:events'
import type { Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import WebSocket from 'ws'
import { createClient, type Channel, type ClientOptions, type HistoryMessage, type SwitchboardClient } from '../../client/src/index.ts'

export async function listen (app: FastifyInstance): Promise<{ api: string, ws: string, uwsPort: number }> {
  await app.listen({ host: '127.0.0.1', port: 0 })
  const { port } = app.server.address() as net.AddressInfo
  return { api: `http://127.0.0.1:${port}`, ws: `ws://127.0.0.1:${app.fanout.uwsPort}/ws`, uwsPort: app.fanout.uwsPort }
}

/** A client with fast reconnects, closed in teardown. */
export function client (t: Test, opts: Partial<ClientOptions> & Pick<ClientOptions, 'url'>): SwitchboardClient {
  const c = createClient({ WebSocket, reconnect: { initialDelay: 20, maxDelay: 200 }, ...opts })
  t.teardown(() => c.close())
  return c
}

/**
 * What an app shows of a channel, built only from the client's events: a reload replaces it, a
 * created message adds one. A message added twice is recorded as a duplicate.
 */
export function model (channel: Channel) {
  const messages = new Map<string, HistoryMessage>()
  const duplicates: string[] = []
  const waiters: Array<{ done: () => boolean, resolve: () => void }> = []
  const check = () => { for (const w of [...waiters]) if (w.done()) { waiters.splice(waiters.indexOf(w), 1); w.resolve() } }
  channel.on('reload', (page) => {
    messages.clear()
    for (const m of page.messages) messages.set(m.id, m)
    check()
  })
  channel.on('message.created', ({ data }) => {
    if (messages.has(data.id)) duplicates.push(data.content)
    messages.set(data.id, data)
    check()
  })
  channel.on('message.deleted', ({ data }) => { messages.delete(data.id); check() })
  const contents = () => [...messages.values()].sort((a, b) => (a.id < b.id ? -1 : 1)).map((m) => m.content)
  return {
    duplicates,
    contents,
    /** Resolves once the channel shows `content` (waits for the event, never for time). */
    has (content: string): Promise<void> {
      const done = () => contents().includes(content)
      if (done()) return Promise.resolve()
      return new Promise((resolve) => waiters.push({ done, resolve }))
    }
  }
}

/**
 * A TCP relay to a port that can change (an app restarted on a new port) and can be cut: every
 * open connection is reset, new ones are refused until `restore`.
 */
export class Relay {
  private server: net.Server | undefined
  private readonly sockets = new Set<net.Socket>()
  port = 0
  constructor (public target: number) {}

  async start (): Promise<this> {
    const server = net.createServer((client) => {
      const upstream = net.connect({ host: '127.0.0.1', port: this.target })
      for (const s of [client, upstream]) {
        this.sockets.add(s)
        s.on('close', () => this.sockets.delete(s))
        s.on('error', () => { client.destroy(); upstream.destroy() })
      }
      client.pipe(upstream).pipe(client)
    })
    server.unref()
    server.listen(this.port, '127.0.0.1')
    await once(server, 'listening')
    this.port = (server.address() as net.AddressInfo).port
    this.server = server
    return this
  }

  async cut (): Promise<void> {
    const server = this.server
    if (!server) return
    this.server = undefined
    const closed = once(server, 'close')
    server.close()
    for (const s of this.sockets) s.resetAndDestroy()
    await closed
  }

  async restore (): Promise<void> { if (!this.server) await this.start() }
}
