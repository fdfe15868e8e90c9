/* c8 ignore start */ // Coverage: `npm run bench` runs this file in a process of its own, which test/bench drives end to end (a child process's coverage is not collected); the thresholds measure the product.
// Posts messages over HTTP at a fixed rate (open loop: the schedule does not wait for answers),
// with bounded concurrency on a keep-alive undici Pool, and records which posts were acknowledged.
import { Pool } from 'undici'
import { SeqSet } from './accounting.ts'
import { encodeContent, nowMicros, warmupContent } from './payload.ts'

/** What every target is sent for one message; the content carries the stamp. */
export interface ChatMessage { channelId: string, content: string, senderId: string, senderName: string }

/** How one target takes a message: path, headers, body, and which answer acknowledges it. */
export interface PostRequest {
  path: string
  headers: Record<string, string>
  body (message: ChatMessage): string
  acknowledged (status: number, text: string): boolean
}

/** switchboard and the Socket.IO-based references: `POST /api/messages`, acknowledged by a 201. */
export function messagesPost (token?: string): PostRequest {
  return {
    path: '/api/messages',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: (message) => JSON.stringify(message),
    acknowledged: (status) => status === 201
  }
}

export interface PostPlan {
  /** the generator's connections to each instance of the target (openPosterPool); left open */
  pools: Pool[]
  /** instances no longer posted to (killed by --fail instance): their posts go to the next one up */
  down?: ReadonlySet<number>
  request: PostRequest
  channels: string[]
  rate: number
  durationSec: number
  size: number
  concurrency: number
  /** false: warm-up posts, whose content carries no stamp (default true) */
  stamped?: boolean
}

export interface PostStats {
  sent: number
  acknowledged: number
  httpErrors: number
  /** posts refused with 503 + Retry-After by the server's load shedding: not errors, the server said "later" */
  shed: number
  /** status code (or error name) → count */
  errorsBy: Record<string, number>
  firstError?: string
  /** how late the last post went out against its schedule, and the worst lateness (ms) */
  behindScheduleMs: number
  maxBehindScheduleMs: number
  /** posts sent more than 10 ms after their scheduled time */
  postsLate: number
  /** times the concurrency bound held posts back */
  queuedForSlot: number
}

export interface Poster {
  readonly stats: PostStats
  /** acknowledged sequence numbers per channel and their count */
  readonly acked: Array<{ set: SeqSet, count: number }>
  /** resolves when every post has been answered */
  readonly done: Promise<void>
}

const TICK_MS = 2

/**
 * The generator's HTTP connections to the target, `open` of them opened before anything is timed
 * (as the subscribers' sockets are): a step's first posts would otherwise also time the TCP
 * connects of a pool growing under load. One request per connection at once makes the pool open
 * them all; any answer will do.
 */
export async function openPosterPool (baseUrl: string, connections: number, open: number): Promise<Pool> {
  const pool = new Pool(baseUrl, { connections, pipelining: 1, keepAliveTimeout: 30_000 })
  await Promise.all(Array.from({ length: Math.min(open, connections) }, async () => {
    const res = await pool.request({ path: '/', method: 'GET' })
    await res.body.dump()
  }))
  return pool
}

export function startPosting (plan: PostPlan): Poster {
  const { pools } = plan
  const stats: PostStats = { sent: 0, acknowledged: 0, httpErrors: 0, shed: 0, errorsBy: {}, behindScheduleMs: 0, maxBehindScheduleMs: 0, postsLate: 0, queuedForSlot: 0 }
  const channels = plan.channels.length
  const acked = plan.channels.map(() => ({ set: new SeqSet(), count: 0 }))
  const nextSeq = plan.channels.map(() => 0)
  // One post in flight per channel: the log then holds each channel's posts in sequence order, so
  // a delivery below the highest sequence seen is a real reordering, not a race between two posts.
  const waiting = plan.channels.map(() => [] as number[]) // scheduled times (ms) of posts not yet sent
  const busy = plan.channels.map(() => false)
  const ready: number[] = [] // channels with a post waiting and none in flight, oldest first
  const total = plan.rate * plan.durationSec
  const { path, headers } = plan.request
  let inFlight = 0
  let scheduled = 0
  let answered = 0
  const start = performance.now()
  let finished!: () => void
  const done = new Promise<void>((resolve) => { finished = resolve })

  const fail = (key: string, detail: string) => {
    stats.httpErrors++
    stats.errorsBy[key] = (stats.errorsBy[key] ?? 0) + 1
    stats.firstError ??= detail
  }

  async function post (channel: number, scheduledAt: number): Promise<void> {
    const late = performance.now() - start - scheduledAt
    stats.behindScheduleMs = late
    if (late > stats.maxBehindScheduleMs) stats.maxBehindScheduleMs = late
    if (late > 10) stats.postsLate++
    const seq = nextSeq[channel]++
    // round robin by post: each channel's posts go to every instance in turn (a load balancer's job)
    let instance = (channel + seq) % pools.length
    for (let tries = 1; plan.down?.has(instance) && tries < pools.length; tries++) instance = (instance + 1) % pools.length
    const pool = pools[instance]
    const content = plan.stamped === false ? warmupContent(plan.size) : encodeContent(channel, seq, nowMicros(), plan.size)
    const body = plan.request.body({ channelId: plan.channels[channel], content, senderId: 'bench', senderName: 'bench' })
    stats.sent++
    try {
      const res = await pool.request({ path, method: 'POST', headers, body })
      const text = await res.body.text()
      if (plan.request.acknowledged(res.statusCode, text)) {
        acked[channel].set.add(seq)
        acked[channel].count++
        stats.acknowledged++
      } else if (res.statusCode === 503 && res.headers['retry-after'] !== undefined) stats.shed++
      else fail(String(res.statusCode), `${res.statusCode} ${text.slice(0, 200)}`)
    } catch (err) {
      fail((err as Error).name, (err as Error).message)
    }
  }

  function pump (): void {
    while (ready.length > 0) {
      if (inFlight >= plan.concurrency) { stats.queuedForSlot++; return }
      const channel = ready.shift()!
      const scheduledAt = waiting[channel].shift()!
      busy[channel] = true
      inFlight++
      void post(channel, scheduledAt).then(() => {
        inFlight--
        busy[channel] = false
        if (waiting[channel].length > 0) ready.push(channel)
        if (++answered === total) finished()
        else pump()
      })
    }
  }

  const timer = setInterval(() => {
    const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * plan.rate) + 1)
    for (; scheduled < due; scheduled++) {
      const channel = scheduled % channels
      waiting[channel].push((scheduled / plan.rate) * 1000)
      if (!busy[channel] && waiting[channel].length === 1) ready.push(channel)
    }
    if (scheduled >= total) clearInterval(timer)
    pump()
  }, TICK_MS)
  return { stats, acked, done }
}
