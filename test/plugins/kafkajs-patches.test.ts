// kafkajs 2.2.4's request queue re-arms a 1 ms timer forever on an idle connection (kafkajs#1556):
// the patch schedules a check only when a request waits or a throttle is to end.
import t from 'tap'
import { RequestQueue } from '../../plugins/bus/kafkajs-patches.ts'

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
