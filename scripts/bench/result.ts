// The shape of what a benchmark reports, per step and for the whole run (also written by --json).
import type { LatencySummary } from './histogram.ts'
import type { BenchOptions, TransportKind } from './options.ts'

export interface StepResult {
  transport: TransportKind
  /** what served it: the started server's services, or "external" for --target */
  target: string
  /** offered messages per second */
  rate: number
  sent: number
  acknowledged: number
  httpErrors: number
  /** posts the server refused with 503 + Retry-After (load shedding), counted apart from errors */
  shed?: number
  httpErrorsBy: Record<string, number>
  firstHttpError?: string
  /** Σ over acknowledged posts of the subscribers of its channel */
  expectedDeliveries: number
  /** acknowledged posts received, each counted once per subscriber */
  delivered: number
  lost: number
  duplicates: number
  /** new sequence numbers that arrived below the highest already seen by that subscriber */
  outOfOrder: number
  /** deliveries on a channel the subscriber did not subscribe to */
  misrouted: number
  /** deliveries of posts whose POST did not answer 201 (e.g. timed out after the log had it) */
  deliveredWithoutAck: number
  /** subscribers whose connection ended during the run */
  disconnected: number
  latencyMs: LatencySummary
  /** timed deliveries slower than the latency objective (--slo-p99) */
  overSlo: number
  /**
   * Latency by second of the step, by when deliveries were received (the last entry may be a part
   * of a second): where a p99 comes from, a cold first second or the whole run.
   */
  timeline: SecondOfLatency[]
  /** acknowledged posts per second over the posting period */
  messagesPerSec: number
  /** deliveries per second from the first post to the last delivery */
  deliveriesPerSec: number
  generator: {
    workers: number
    workerMaxElu: number
    /** share of 250 ms intervals in which a worker thread was at least 90% busy */
    workerBusyShare: number
    workerEventLoopDelayP99Ms: number
    postsLate: number
    maxBehindScheduleMs: number
    postsQueuedForSlot: number
    saturated: boolean
    reasons: string[]
  }
  /**
   * the started server: CPU time (user + system) in all, per second of posting, per message, per
   * delivery (Centrifugo's read from /proc/<pid>/stat); event-loop figures for Node servers only
   */
  server?: { cpuMs: number, cpuSystemMs: number, cpuPerSec: number, cpuMicrosPerMessage: number, cpuMicrosPerDelivery: number, eventLoopUtilization?: number, eventLoopDelayP99Ms?: number, eventLoopDelayMaxMs?: number, profile?: string }
  /** --instances N > 1: each started instance's share (`server` sums their CPU; its event loop is the busiest one's) */
  instances?: Array<{ cpuMs: number, cpuPerSec: number, eventLoopUtilization?: number, profile?: string }>
  /** --fail: what was killed and what it cost */
  failover?: FailoverResult
}

/**
 * The deliveries received in one second of a step; `overSlo`: how many were slower than the
 * objective; `survivorsP99` (--fail instance): the p99 of subscribers never disconnected.
 */
export interface SecondOfLatency { second: number, deliveries: number, p99: number, max: number, overSlo: number, survivorsP99?: number }

/** What a --fail failure cost: posts refused, the latency from the kill on, and for an instance the reconnect storm. */
export interface FailoverResult {
  what: 'broker' | 'redis' | 'instance'
  /** --fail's second, and when the kill happened (seconds into the measured window) */
  at: number
  killedAtSecond: number
  /** kafka-2, redis-1, instance 1 */
  node: string
  detail: string
  /** seconds from the kill until the node answered again after its restart (broker, redis) */
  restartedAfterSec?: number
  /** finding, killing or restarting the node failed */
  error?: string
  /** posts answered 503 (the log unavailable: nothing accepted), with Retry-After or not */
  posts503?: number
  /** posts answered another 5xx: must be 0 */
  postsOther5xx?: number
  /** posts with no answer (the connection to a killed instance closed under them) */
  postsUnanswered?: number
  /** the p99 (ms) of each second from the one of the kill; null for a second without deliveries */
  p99FromKill?: Array<number | null>
  /** seconds after the kill from which every second's p99 stayed under --slo-p99 (null: never) */
  underSloAfterSec?: number | null
  /** --fail instance: the killed instance's sockets coming back */
  reconnect?: {
    sockets: number
    reconnected: number
    /** resubscribed with `recovered: true` (the replay counted as deliveries) */
    recovered: number
    /** resubscribed with `recovered: false`, then reloaded history over HTTP */
    reloaded: number
    /** messages those reloads held that the socket had not seen */
    reloadedDeliveries: number
    notBack: number
    /** from the lost connection to live again (subscribed, and history reloaded when needed) */
    liveAgainMs: { p50: number, p99: number, max: number }
    /** from the kill until every killed socket was back (or gave up) */
    stormSec: number
    /** the survivors' p99 (ms) for their own (never disconnected) clients during the storm */
    survivorsP99Ms: number
  }
}

/** One of switchboard's transports against one reference; each ratio above 1 means switchboard is better. */
export interface Versus {
  ours: TransportKind
  reference: TransportKind
  /** with a sweep: ours / the reference's deliveries per second at the highest rate each sustained (capacity at equal p99); null when either sustained none */
  sustained: number | null
  /** the reference's server CPU per delivery / ours, at the highest rate run */
  cpuPerDelivery: number | null
  /** ours / the reference's deliveries per second, at the highest rate run */
  throughput: number | null
  /** the reference's p99 / ours, at the highest rate run */
  p99: number | null
}

export interface Comparison {
  /** the highest offered rate run, where throughput, p99 and CPU are compared */
  rate: number
  /** the p99 (ms) a step had to stay under to count as sustained */
  sloP99: number
  versus: Versus[]
  /** with a sweep: the highest rate each transport sustained (no loss, p99 ≤ sloP99) and its deliveries/s */
  sustained?: Partial<Record<TransportKind, { rate: number, deliveriesPerSec: number } | null>>
}

export interface BenchResult {
  startedAt: string
  config: Omit<BenchOptions, 'token'> & { token?: '(set)' }
  host: { cpus: number, loadAverage: number[], node: string }
  runs: StepResult[]
  comparison?: Comparison
  /** every run accounted for every delivery */
  ok: boolean
}

/** A step counts as sustained when nothing was lost or doubled and p99 met the objective. */
export function sustained (r: StepResult, sloP99Ms: number): boolean {
  return r.lost === 0 && r.duplicates === 0 && r.httpErrors === 0 && r.disconnected === 0 && r.latencyMs.p99 <= sloP99Ms && r.messagesPerSec >= r.rate * 0.95
}

export function accountedFor (r: StepResult): boolean {
  return r.lost === 0 && r.duplicates === 0 && r.outOfOrder === 0 && r.misrouted === 0 && r.delivered === r.expectedDeliveries
}
