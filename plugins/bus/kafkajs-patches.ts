// Fixes to kafkajs 2.2.4 (unmaintained since 2023) applied at load, in one place.
//
// RequestQueue.scheduleCheckPendingRequests: with no request pending and no broker throttling, it
// schedules a timer at a negative delay (1 ms) that re-schedules itself for as long as the
// connection lives: ~1,800 event-loop wake-ups a second per process, most of an idle instance's
// CPU. Upstream: tulios/kafkajs#1556 (issue), #1667 (the fix, never released). Here: schedule a
// check only when something is pending, or when a throttle is still to end.
//
// RequestQueue.scheduleRequestTimeoutCheck: every connection looks for timed-out requests every
// 100 ms for as long as it lives (a consumer always has a long-poll fetch in flight): with ten
// connections, 100 timer callbacks a second, the largest share of an idle instance's CPU. Here:
// every tenth of the request timeout (500 ms for switchboard's 5 s), within [100 ms, 1 s]; a
// stalled request still fails within 10 % of its timeout.
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)

interface RequestQueue {
  pending: unknown[]
  inflight: Map<number, { sentAt: number, requestTimeout: number, timeoutRequest (): void }>
  requestTimeout: number
  enforceRequestTimeout: boolean
  requestTimeoutIntervalId: NodeJS.Timeout | undefined
  isConnected (): boolean
  destroy (): void
  throttledUntil: number
  throttleCheckTimeoutId: NodeJS.Timeout | null
  checkPendingRequests (): void
  scheduleCheckPendingRequests (): void
  scheduleRequestTimeoutCheck (): void
}

/** How often kafkajs re-checks a queue that is merely full (its CHECK_PENDING_REQUESTS_INTERVAL). */
const CHECK_PENDING_REQUESTS_INTERVAL = 10

export const RequestQueue = require('kafkajs/src/network/requestQueue/index.js') as { prototype: RequestQueue }

RequestQueue.prototype.scheduleCheckPendingRequests = function scheduleCheckPendingRequests (this: RequestQueue) {
  if (this.throttleCheckTimeoutId) return
  const throttledFor = this.throttledUntil - Date.now()
  // nothing waits and nothing throttles: the next request or response checks the queue anyway
  if (this.pending.length === 0 && throttledFor <= 0) return
  this.throttleCheckTimeoutId = setTimeout(() => {
    this.throttleCheckTimeoutId = null
    this.checkPendingRequests()
  }, throttledFor > 0 ? throttledFor : CHECK_PENDING_REQUESTS_INTERVAL)
}

/** How often a connection looks for requests past their timeout: a tenth of it, within [100 ms, 1 s]. */
export function requestTimeoutCheckInterval (requestTimeout: number): number {
  return Math.min(1000, Math.max(100, Math.floor(requestTimeout / 10)))
}

RequestQueue.prototype.scheduleRequestTimeoutCheck = function scheduleRequestTimeoutCheck (this: RequestQueue) {
  if (!this.enforceRequestTimeout) return
  this.destroy()
  this.requestTimeoutIntervalId = setInterval(() => {
    this.inflight.forEach((request) => {
      if (Date.now() - request.sentAt > request.requestTimeout) request.timeoutRequest()
    })
    if (!this.isConnected()) this.destroy()
  }, requestTimeoutCheckInterval(this.requestTimeout))
}
