import t from 'tap'
import { createReceiptThrottle, type ThrottleClock } from '../../plugins/read-state/receipt-throttle.ts'

/** A clock the test moves by hand: timers fire when it passes them. */
function manualClock () {
  let now = 0
  const timers: Array<{ at: number, fn: () => void, done: boolean }> = []
  const clock: ThrottleClock = {
    now: () => now,
    setTimeout: (fn, ms) => { const timer = { at: now + ms, fn, done: false }; timers.push(timer); return timer },
    clearTimeout: (timer) => { (timer as { done: boolean }).done = true }
  }
  const advance = (to: number) => {
    now = to
    for (const timer of timers) if (!timer.done && timer.at <= now) { timer.done = true; timer.fn() }
  }
  return { clock, advance }
}

t.test('at most one send per key per interval; the latest offer of a burst is sent when the interval is over', async (t) => {
  const { clock, advance } = manualClock()
  const sent: string[] = []
  const throttle = createReceiptThrottle(1000, (err) => { throw err }, clock)
  const offer = (key: string, value: string) => throttle.offer(key, async () => { sent.push(`${key}:${value}`) })
  offer('alice', '1')
  offer('bob', '1')
  t.same(sent, ['alice:1', 'bob:1'], 'the first of each key goes at once')
  advance(100); offer('alice', '2')
  advance(500); offer('alice', '3')
  t.same(sent, ['alice:1', 'bob:1'], 'within the second: held')
  advance(999)
  t.same(sent.length, 2)
  advance(1000)
  t.same(sent, ['alice:1', 'bob:1', 'alice:3'], 'the latest of the burst, once the second is over')
  advance(1500); offer('alice', '4')
  throttle.stop()
  advance(5000)
  t.same(sent, ['alice:1', 'bob:1', 'alice:3'], 'stopped: pending sends dropped')
  advance(6000); offer('bob', '2')
  t.same(sent.at(-1), 'bob:2', 'a quiet key sends at once')
})
