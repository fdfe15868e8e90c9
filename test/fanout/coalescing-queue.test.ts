// The bounded per-connection queue that the connections and presence plugins write through
// (issue 24, N5): in order, subscription changes coalesced then dropped at the bound, work without
// a channel never dropped.
import t from 'tap'
import { CoalescingQueue } from '../../fanout/coalescing-queue.ts'

t.test('at the bound, queued changes of a channel cancel in pairs, then the oldest change goes; the rest run in order', async (t) => {
  let release!: () => void
  const held = new Promise<void>((resolve) => { release = resolve })
  const ran: string[] = []
  const shed: Array<{ cancelled: number, dropped: number }> = []
  const queue = new CoalescingQueue({ limit: 3, onShed: (s) => shed.push(s) })
  const push = (name: string, channel?: string, wait?: Promise<void>) =>
    queue.push({ channel, run: async () => { if (wait) await wait; ran.push(name) } })
  const all = [
    push('connected', undefined, held), // running, held: the rest wait
    push('+a', 'a'), push('-a', 'a'), push('+b', 'b'),
    push('+c', 'c'), // 4 waiting > 3: +a and -a cancel out
    push('-b', 'b'), push('+d', 'd'), // 4 again: +b and -b cancel
    push('+e', 'e'), push('disconnected'), // 4: no pair left, the oldest change (+c) goes
    push('-e', 'e') // 4: +e and -e cancel
  ]
  t.equal(queue.size, 2, 'the bound held the queue')
  release()
  await Promise.all(all) // every push resolves: run or shed
  t.same(ran, ['connected', '+d', 'disconnected'])
  t.same(shed, [{ cancelled: 2, dropped: 0 }, { cancelled: 2, dropped: 0 }, { cancelled: 0, dropped: 1 }, { cancelled: 2, dropped: 0 }])
})

t.test('work without a channel is never dropped, even past the bound', async (t) => {
  let release!: () => void
  const held = new Promise<void>((resolve) => { release = resolve })
  const ran: string[] = []
  const queue = new CoalescingQueue({ limit: 1 })
  const all = [queue.push({ run: async () => { await held; ran.push('first') } })]
  for (let i = 0; i < 5; i++) all.push(queue.push({ run: async () => { ran.push(`kept ${i}`) } }))
  t.equal(queue.size, 5)
  release()
  await Promise.all(all)
  t.same(ran, ['first', 'kept 0', 'kept 1', 'kept 2', 'kept 3', 'kept 4'])
})

t.test('a failing run is reported and the queue goes on', async (t) => {
  const errors: unknown[] = []
  const ran: string[] = []
  const queue = new CoalescingQueue({ limit: 10, onError: (err) => errors.push(err) })
  await Promise.all([
    queue.push({ run: async () => { throw new Error('boom') } }),
    queue.push({ run: async () => { ran.push('next') } })
  ])
  t.match(errors, [{ message: 'boom' }])
  t.same(ran, ['next'])
})
