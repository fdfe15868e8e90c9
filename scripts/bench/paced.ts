// Requests at a fixed rate (open loop: the schedule does not wait for answers), each timed from
// the moment it was due, so a slow answer delays no later request's clock (no coordinated
// omission). Latencies in an HDR histogram (histogram.ts).
import { createHistogram, summarize, type LatencySummary } from './histogram.ts'
import { nowMicros } from './payload.ts'

export interface PacedResult {
  latencyMs: LatencySummary
  sent: number
  ok: number
  failed: number
  /** the first failure's status or error, for the report */
  firstFailure?: string
}

const TICK_MS = 2

/** Calls `request` `rate` times a second for `durationSec` seconds; `request` resolves true when the answer is the expected one. */
export async function paced (rate: number, durationSec: number, request: () => Promise<true | string>): Promise<PacedResult> {
  const histogram = createHistogram()
  const total = Math.round(rate * durationSec)
  const start = nowMicros()
  const result: PacedResult = { latencyMs: summarize(histogram), sent: 0, ok: 0, failed: 0 }
  const pending: Array<Promise<void>> = []
  const one = async (dueAt: number) => {
    let outcome: true | string
    try { outcome = await request() } catch (err) { outcome = (err as Error).message }
    histogram.recordValue(Math.max(1, nowMicros() - dueAt))
    if (outcome === true) result.ok++
    else { result.failed++; result.firstFailure ??= outcome }
  }
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const due = Math.min(total, Math.floor(((nowMicros() - start) / 1e6) * rate) + 1)
      for (; result.sent < due; result.sent++) pending.push(one(start + Math.round((result.sent / rate) * 1e6)))
      if (result.sent >= total) { clearInterval(timer); resolve() }
    }, TICK_MS)
  })
  await Promise.all(pending)
  result.latencyMs = summarize(histogram)
  histogram.destroy()
  return result
}
