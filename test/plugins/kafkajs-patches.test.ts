// kafkajs 2.2.4's request queue re-arms a 1 ms timer forever on an idle connection (kafkajs#1556):
// the patch schedules a check only when a request waits or a throttle is to end. It also looks for
// timed-out requests every tenth of the timeout instead of every 100 ms.
import t from 'tap'
import { RequestQueue, requestTimeoutCheckInterval } from '../../plugins/bus/kafkajs-patches.ts'

/** A queue in the state kafkajs leaves it in, with setTimeout observed. */
function queue (pending: unknown[], throttledUntil: number) {
  return Object.assign(Object.create(RequestQueue.prototype), { pending, throttledUntil, throttleCheckTimeoutId: null, checkPendingRequests () {} })
}

t.test('an idle, unthrottled connection arms no timer', async (t) => {
  const q = queue([], -1)
  q.scheduleCheckPendingRequests()
  t.equal(q.throttleCheckTimeoutId, null, 'nothing scheduled: no timer loop')
})

t.test('a waiting request or a throttle still gets its check', async (t) => {
  const waiting = queue([{}], -1)
  waiting.scheduleCheckPendingRequests()
  t.ok(waiting.throttleCheckTimeoutId, 'a pending request is checked again')
  clearTimeout(waiting.throttleCheckTimeoutId)
  const throttled = queue([], Date.now() + 60_000)
  throttled.scheduleCheckPendingRequests()
  t.ok(throttled.throttleCheckTimeoutId, 'the end of a throttle is checked')
  clearTimeout(throttled.throttleCheckTimeoutId)
})

t.test('timed-out requests are looked for every tenth of the timeout (not every 100 ms), and still found', async (t) => {
  t.equal(requestTimeoutCheckInterval(5000), 500, 'switchboard\'s 5 s request timeout: twice a second')
  t.equal(requestTimeoutCheckInterval(30_000), 1000, 'kafkajs\'s default 30 s: once a second at most')
  t.equal(requestTimeoutCheckInterval(300), 100, 'never more often than kafkajs did')
  // the interval it arms, observed in place of the real one
  const armed: Array<{ check: () => void, ms: number }> = []
  const realSetInterval = globalThis.setInterval
  globalThis.setInterval = ((check: () => void, ms: number) => { armed.push({ check, ms }); return 0 as unknown as NodeJS.Timeout }) as typeof setInterval
  t.teardown(() => { globalThis.setInterval = realSetInterval })
  const timedOut: string[] = []
  const request = (name: string, sentAgo: number) => ({ sentAt: Date.now() - sentAgo, requestTimeout: 5000, timeoutRequest () { timedOut.push(name) } })
  const q = Object.assign(Object.create(RequestQueue.prototype), {
    enforceRequestTimeout: true,
    requestTimeout: 5000,
    inflight: new Map([[1, request('stalled', 6000)], [2, request('recent', 100)]]),
    isConnected: () => true,
    destroy () {}
  })
  q.scheduleRequestTimeoutCheck()
  t.equal(armed.length, 1)
  t.equal(armed[0].ms, 500)
  armed[0].check()
  t.same(timedOut, ['stalled'], 'the request past its timeout fails, the recent one waits')
})
