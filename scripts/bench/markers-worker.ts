// Worker thread of `npm run bench:markers`: holds its users' WebSockets (auth off: `?user=<id>`),
// each subscribed to its channel (and, as every identified socket, to `user:<id>`, where its
// read.updated events come), times the stamped messages they receive, and sends read markers at
// its share of the rate, each for the latest message its user received. Talks to markers.ts.
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { parentPort, workerData } from 'node:worker_threads'
import { Pool } from 'undici'
import WebSocket from 'ws'
import { createHistogram, encode } from './histogram.ts'
import { decodeFrame, nowMicros } from './payload.ts'
import type { Position } from '../../schemas/message.ts'

export interface MarkersWorkerSetup {
  wsUrl: string
  apiUrl: string
  /** this worker's users and the index of each one's channel in `channels` */
  users: Array<{ userId: string, channel: number }>
  channels: string[]
  /** this worker's share of the markers per second */
  markersPerSec: number
  reportEveryMs: number
}
/** A marker answered 204: the furthest one of each user, to check against the store. */
export interface Answered { userId: string, channelId: string, messageId: string, position: Position }
export type MarkersWorkerReady = { type: 'ready', connected: number, failed: number, firstError?: string }
export type MarkersWorkerReport = { type: 'report', delivered: number, primed: number }
export interface MarkerCounts {
  /** PUTs sent, answered 204, answered otherwise or failed */
  sent: number
  answered: number
  failed: number
  /** failures by status (or error name) */
  failedBy: Record<string, number>
  firstFailure?: string
  /** markers for the message the user had already marked (they change nothing, and answer 204) */
  repeated: number
  /** turns skipped: the user had received nothing yet */
  skipped: number
}
export type MarkersWorkerFinal = { type: 'final', delivered: number, histogram: string, markers: MarkerCounts, answered: Answered[], disconnected: number, eventLoopDelayP99Ms: number }

const CONNECT_AT_ONCE = 100
const TICK_MS = 5
const setup = workerData as MarkersWorkerSetup
const port = parentPort!
const histogram = createHistogram()
const sockets: WebSocket[] = []
const latest: Array<{ messageId: string, position: Position } | undefined> = setup.users.map(() => undefined)
const furthest: Array<Answered | undefined> = setup.users.map(() => undefined)
const lastSent: Array<string | undefined> = setup.users.map(() => undefined)
const counts: MarkerCounts = { sent: 0, answered: 0, failed: 0, failedBy: {}, repeated: 0, skipped: 0 }
const delay = monitorEventLoopDelay({ resolution: 10 })
let delivered = 0
/** users that have received a message (one they can mark) */
let primed = 0
let disconnected = 0
let closing = false

const later = (a: Position, b: Position) => a.epoch !== b.epoch || BigInt(a.offset) > BigInt(b.offset)

function receive (index: number, frame: string): void {
  if (!frame.includes('"type":"message.created"')) return // receipts and the rest: not timed, not marked
  const stamp = decodeFrame(frame)
  if (stamp) {
    if (stamp.channel !== setup.users[index].channel) return
    delivered++
    histogram.recordValue(Math.max(1, nowMicros() - stamp.sentAt))
  }
  // the priming message (unstamped) too: it gives every user a message to mark from the first second
  const parsed = JSON.parse(frame) as { position?: Position, data?: { id?: string } }
  if (!parsed.position || !parsed.data?.id) return
  if (!latest[index]) primed++
  latest[index] = { messageId: parsed.data.id, position: parsed.position }
}

function connect (index: number): Promise<void> {
  const { userId, channel } = setup.users[index]
  const ws = new WebSocket(`${setup.wsUrl}?user=${encodeURIComponent(userId)}`, { perMessageDeflate: false })
  sockets[index] = ws
  return new Promise((resolve, reject) => {
    let subscribed = false
    const fail = (reason: string) => { if (!subscribed) reject(new Error(`${userId}: ${reason}`)); else if (!closing) disconnected++ }
    ws.on('error', (err) => fail(err.message))
    ws.on('close', (code) => fail(`closed with ${code}`))
    ws.on('unexpected-response', (_req, res) => { fail(`upgrade answered ${res.statusCode}`); res.resume(); ws.terminate() })
    ws.on('open', () => ws.send(JSON.stringify({ op: 'subscribe', channel: setup.channels[channel] })))
    ws.on('message', (data: Buffer) => {
      const frame = data.toString()
      if (subscribed) return receive(index, frame)
      const parsed = JSON.parse(frame) as { op: string, channel?: string, message?: string }
      // an identified socket is also subscribed to user:<id> as it connects (read.updated comes there): wait for the channel's own
      if (parsed.op === 'subscribed' && parsed.channel === setup.channels[channel]) { subscribed = true; resolve() } else if (parsed.op === 'error') reject(new Error(`${userId}: subscribe refused: ${parsed.message}`))
    })
  })
}

async function connectAll (): Promise<MarkersWorkerReady> {
  let next = 0
  let failed = 0
  let firstError: string | undefined
  await Promise.all(Array.from({ length: Math.min(CONNECT_AT_ONCE, setup.users.length) }, async () => {
    while (next < setup.users.length) {
      const index = next++
      try { await connect(index) } catch (err) { failed++; firstError ??= (err as Error).message }
    }
  }))
  return { type: 'ready', connected: setup.users.length - failed, failed, firstError }
}

/** Markers at this worker's rate, round robin over its users, until `stop`; resolves once every one is answered. */
function startMarking (): { stop (): Promise<void> } {
  const pool = new Pool(setup.apiUrl, { connections: 32, pipelining: 1, keepAliveTimeout: 30_000 })
  const pending = new Set<Promise<void>>()
  const start = performance.now()
  let scheduled = 0
  let turn = 0
  const mark = async (index: number) => {
    const { userId, channel } = setup.users[index]
    const { messageId, position } = latest[index]!
    if (lastSent[index] === messageId) counts.repeated++
    lastSent[index] = messageId
    counts.sent++
    const channelId = setup.channels[channel]
    try {
      const res = await pool.request({ method: 'PUT', path: `/api/channels/${encodeURIComponent(channelId)}/read`, headers: { 'x-user-id': userId, 'content-type': 'application/json' }, body: JSON.stringify({ messageId }) })
      const text = await res.body.text()
      if (res.statusCode === 204) {
        counts.answered++
        const before = furthest[index]
        if (!before || later(position, before.position)) furthest[index] = { userId, channelId, messageId, position }
        return
      }
      counts.failed++
      counts.failedBy[res.statusCode] = (counts.failedBy[res.statusCode] ?? 0) + 1
      counts.firstFailure ??= `${res.statusCode} ${text.slice(0, 200)}`
    } catch (err) {
      counts.failed++
      counts.failedBy[(err as Error).name] = (counts.failedBy[(err as Error).name] ?? 0) + 1
      counts.firstFailure ??= (err as Error).message
    }
  }
  const timer = setInterval(() => {
    const due = Math.floor(((performance.now() - start) / 1000) * setup.markersPerSec)
    for (; scheduled < due; scheduled++) {
      const index = turn++ % setup.users.length
      if (!latest[index]) { counts.skipped++; continue }
      const p = mark(index).finally(() => pending.delete(p))
      pending.add(p)
    }
  }, TICK_MS)
  return {
    async stop () {
      clearInterval(timer)
      await Promise.all(pending)
      await pool.close()
    }
  }
}

let marking: { stop (): Promise<void> } | undefined
port.on('message', async (message: { type: string }) => {
  if (message.type === 'start') {
    marking = startMarking()
  } else if (message.type === 'stop-marking') {
    await marking?.stop()
    port.postMessage({ type: 'marking-stopped' })
  } else if (message.type === 'finish') {
    clearInterval(reporter)
    closing = true
    for (const ws of sockets) ws?.terminate()
    delay.disable()
    const answered = furthest.filter((a): a is Answered => a !== undefined)
    port.postMessage({ type: 'final', delivered, histogram: encode(histogram), markers: counts, answered, disconnected, eventLoopDelayP99Ms: delay.percentile(99) / 1e6 } satisfies MarkersWorkerFinal)
    port.close()
  }
})

const ready = await connectAll()
delay.enable()
const reporter = setInterval(() => port.postMessage({ type: 'report', delivered, primed } satisfies MarkersWorkerReport), setup.reportEveryMs)
port.postMessage(ready)
