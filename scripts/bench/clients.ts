/* c8 ignore start */ // Coverage: `npm run bench` runs this file in a process of its own, which test/bench drives end to end (a child process's coverage is not collected); the thresholds measure the product.
// One benchmark subscriber per connection: protocol v1 over a plain WebSocket (uws and fastify
// transports), Socket.IO (the socketio and seed references) or Centrifugo's JSON protocol. Each
// resolves once its subscribe is confirmed.
import WebSocket from 'ws'
import { io } from 'socket.io-client'
import { decodeContent, decodeFrame, decodePosition, parseCentrifugoFrame, type Position, type Stamp } from './payload.ts'
import type { TransportKind } from './options.ts'

export interface Subscriber { close (): void }

export interface SubscriberOptions {
  kind: TransportKind
  url: string
  channel: string
  token?: string
  onStamp (stamp: Stamp): void
  /** the connection ended before close() was called (e.g. closed as a slow consumer) */
  onLost (reason: string): void
  /** protocol v1 only: resubscribe from this position (a reconnect, docs/protocol.md) */
  since?: Position
  /** protocol v1 only: the subscribe's answer, before any frame that follows it (a replay) */
  onSubscribed? (answer: { position: Position | null, recovered: boolean }): void
  /** protocol v1 only: the position of every event frame, to resubscribe from after a reconnect */
  onPosition? (position: Position): void
}

const OPENERS: Record<TransportKind, (opts: SubscriberOptions) => Promise<Subscriber>> = {
  uws: openWebSocket,
  fastify: openWebSocket,
  socketio: openSocketIo,
  seed: openSocketIo,
  centrifugo: openCentrifugo
}

/** An upgrade refused with 503 + Retry-After: the server shed it (overloaded) and asks to come back. */
export class ShedUpgrade extends Error {
  constructor (readonly retryAfterSeconds: number, message: string) { super(message) }
}

/** How often a subscriber comes back after a shed upgrade before it counts as failed. */
export const SHED_RETRIES = 5

export function openSubscriber (opts: SubscriberOptions): Promise<Subscriber> {
  return OPENERS[opts.kind](opts)
}

/**
 * `openSubscriber`, coming back as a client should when the server sheds the upgrade (503 +
 * Retry-After; a fresh server taking thousands of upgrades at once may be that busy), at most
 * SHED_RETRIES times. `wait` is the pause before coming back (seconds).
 */
export async function openSubscriberHonouringShedding (opts: SubscriberOptions, wait: (seconds: number) => Promise<void>): Promise<Subscriber> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await openSubscriber(opts)
    } catch (err) {
      if (!(err instanceof ShedUpgrade) || attempt === SHED_RETRIES) throw err
      await wait(err.retryAfterSeconds)
    }
  }
}

function openWebSocket ({ url, channel, token, onStamp, onLost, since, onSubscribed, onPosition }: SubscriberOptions): Promise<Subscriber> {
  const target = token ? `${url}${url.includes('?') ? '&' : '?'}token=${encodeURIComponent(token)}` : url
  const ws = new WebSocket(target, { perMessageDeflate: false })
  let closing = false
  return new Promise((resolve, reject) => {
    let subscribed = false
    const fail = (reason: string) => {
      if (!subscribed) reject(new Error(`${channel}: ${reason}`))
      else if (!closing) onLost(reason)
    }
    ws.on('error', (err) => fail(err.message))
    ws.on('close', (code) => fail(`closed with ${code}`))
    ws.on('unexpected-response', (_req, res) => {
      const retryAfter = Number(res.headers['retry-after'])
      if (res.statusCode === 503 && retryAfter > 0) reject(new ShedUpgrade(retryAfter, `${channel}: upgrade shed (503, Retry-After ${retryAfter})`))
      else fail(`upgrade answered ${res.statusCode}`)
      res.resume()
      ws.terminate()
    })
    ws.on('open', () => ws.send(JSON.stringify(since ? { op: 'subscribe', channel, since } : { op: 'subscribe', channel })))
    ws.on('message', (data: Buffer) => {
      const frame = data.toString()
      if (subscribed) {
        const stamp = decodeFrame(frame)
        if (stamp) onStamp(stamp)
        if (stamp && onPosition) {
          const position = decodePosition(frame)
          if (position) onPosition(position)
        }
        return
      }
      const parsed = JSON.parse(frame) as { op: string, code?: string, message?: string, position?: Position | null, recovered?: boolean }
      if (parsed.op === 'subscribed') {
        subscribed = true
        onSubscribed?.({ position: parsed.position ?? null, recovered: parsed.recovered === true })
        resolve({ close () { closing = true; ws.terminate() } })
      } else if (parsed.op === 'error') fail(`subscribe refused: ${parsed.code} ${parsed.message}`)
    })
  })
}

function openSocketIo ({ url, channel, token, onStamp, onLost }: SubscriberOptions): Promise<Subscriber> {
  const socket = io(url, { transports: ['websocket'], reconnection: false, forceNew: true, timeout: 20_000, ...(token ? { auth: { token } } : {}) })
  let closing = false
  return new Promise((resolve, reject) => {
    let subscribed = false
    const fail = (reason: string) => {
      if (!subscribed) { socket.close(); reject(new Error(`${channel}: ${reason}`)) } else if (!closing) onLost(reason)
    }
    socket.on('connect_error', (err) => fail(err.message))
    socket.on('disconnect', (reason) => fail(`disconnected: ${reason}`))
    socket.on('event', (frame: { data?: { content?: unknown } }) => {
      const content = frame?.data?.content
      const stamp = typeof content === 'string' ? decodeContent(content) : undefined
      if (stamp) onStamp(stamp)
    })
    socket.on('connect', () => {
      socket.emit('subscribe', channel, (answer: { ok: boolean, message?: string }) => {
        if (!answer?.ok) return fail(`subscribe refused: ${answer?.message}`)
        subscribed = true
        resolve({ close () { closing = true; socket.close() } })
      })
    })
  })
}

/**
 * Centrifugo's JSON client protocol: connect (id 1) and subscribe (id 2) in one frame, then
 * publications as push frames; the server's `{}` pings are answered with `{}` or it disconnects.
 */
function openCentrifugo ({ url, channel, token, onStamp, onLost }: SubscriberOptions): Promise<Subscriber> {
  const ws = new WebSocket(url, { perMessageDeflate: false })
  let closing = false
  return new Promise((resolve, reject) => {
    let subscribed = false
    const fail = (reason: string) => {
      if (!subscribed) { ws.terminate(); reject(new Error(`${channel}: ${reason}`)) } else if (!closing) onLost(reason)
    }
    ws.on('error', (err) => fail(err.message))
    ws.on('close', (code, reason) => fail(`closed with ${code} ${reason.toString()}`))
    ws.on('unexpected-response', (_req, res) => fail(`upgrade answered ${res.statusCode}`))
    ws.on('open', () => ws.send(`${JSON.stringify({ id: 1, connect: token ? { token } : {} })}\n${JSON.stringify({ id: 2, subscribe: { channel } })}`))
    ws.on('message', (data: Buffer) => {
      const frame = parseCentrifugoFrame(data.toString())
      for (let i = 0; i < frame.pings; i++) ws.send('{}')
      for (const reply of frame.replies) {
        if (reply.error) return fail(`${reply.id === 1 ? 'connect' : 'subscribe'} refused: ${reply.error.code} ${reply.error.message}`)
        if (reply.id === 2 && !subscribed) {
          subscribed = true
          resolve({ close () { closing = true; ws.terminate() } })
        }
      }
      for (const stamp of frame.stamps) onStamp(stamp)
    })
  })
}
