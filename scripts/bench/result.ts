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
  /** the started server: CPU time (user + system) in all, per second of posting, per message, per delivery */
  server?: { cpuMs: number, cpuSystemMs: number, cpuPerSec: number, cpuMicrosPerMessage: number, cpuMicrosPerDelivery: number, eventLoopUtilization: number, eventLoopDelayP99Ms: number, eventLoopDelayMaxMs: number, profile?: string }
}

export interface Comparison {
  /** at the same offered rate (the highest one run) */
  rate: number
  throughputRatio: { fastifyVsSocketio: number, uwsVsSocketio: number }
  /** reference p99 / ours: above 1 means ours delivers faster */
  p99Ratio: { fastifyVsSocketio: number, uwsVsSocketio: number }
  /** reference server CPU per delivery / ours: above 1 means ours spends less CPU on each delivery */
  cpuPerDeliveryRatio?: { fastifyVsSocketio: number, uwsVsSocketio: number }
  /** with a sweep: the highest rate each one sustained (no loss, p99 ≤ sloP99Ms) and its deliveries/s */
  sustained?: Record<TransportKind, { rate: number, deliveriesPerSec: number } | null>
  sustainedRatio?: { uwsVsSocketio: number | null, fastifyVsSocketio: number | null }
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
