// The produce batcher: concurrent calls share a request, order holds, a failed request fails only its own calls.
import t from 'tap'
import { createBatcher, ItemFailure } from '../../plugins/bus/batching.ts'

/** A send whose requests the test answers by hand, so what is in flight is under the test's control. */
function manualSend () {
  const requests: Array<{ items: number[], answer: (r?: Error) => void }> = []
  let arrived: () => void = () => {}
  const send = (items: number[]) => new Promise<string[]>((resolve, reject) => {
    requests.push({ items, answer: (err) => err ? reject(err) : resolve(items.map((i) => `r${i}`)) })
    arrived()
  })
  const nextRequest = () => new Promise<void>((resolve) => { arrived = resolve })
  return { send, requests, nextRequest }
}

t.test('calls that arrive while a request is in flight go out together, in order', async (t) => {
  const m = manualSend()
  const produce = createBatcher(m.send, { maxBatch: 100, maxWaitMs: 60_000 })
  let first = m.nextRequest()
  const a = produce(1)
  await first
  t.same(m.requests.map((r) => r.items), [[1]], 'an idle batcher sends the first call at once, alone')
  const rest = [2, 3, 4].map((i) => produce(i))
  t.equal(m.requests.length, 1, 'nothing more is sent while the first request is in flight')
  first = m.nextRequest()
  m.requests[0].answer()
  t.equal(await a, 'r1')
  await first
  t.same(m.requests[1].items, [2, 3, 4], 'the waiting calls share the next request, in call order')
  m.requests[1].answer()
  t.same(await Promise.all(rest), ['r2', 'r3', 'r4'], 'each call gets its own result')
})

t.test('a failed request rejects its own calls only; maxBatch splits the queue', async (t) => {
  const m = manualSend()
  const produce = createBatcher(m.send, { maxBatch: 2, maxWaitMs: 60_000 })
  let next = m.nextRequest()
  const calls = [1, 2, 3].map((i) => produce(i).then((r) => r, (err: Error) => err.message))
  await next
  t.same(m.requests[0].items, [1, 2], 'at most maxBatch items in one request')
  next = m.nextRequest()
  m.requests[0].answer(new Error('broker down'))
  await next
  t.same(m.requests[1].items, [3])
  m.requests[1].answer()
  t.same(await Promise.all(calls), ['broker down', 'broker down', 'r3'])
})

t.test('an item the request answers with an ItemFailure fails alone; its neighbours get their results', async (t) => {
  const send = async (items: number[]) => items.map((i) => i === 2 ? new ItemFailure(new Error('partition 2 refused it')) : `r${i}`)
  const produce = createBatcher(send, { maxBatch: 10, maxWaitMs: 60_000 })
  const calls = [1, 2, 3].map((i) => produce(i).then((r) => r, (err: Error) => err.message))
  t.same(await Promise.all(calls), ['r1', 'partition 2 refused it', 'r3'])
})

t.test('a call that waited longer than maxWaitMs fails without being sent', async (t) => {
  const m = manualSend()
  const produce = createBatcher(m.send, { maxBatch: 10, maxWaitMs: -1 })
  const err = await produce(1).then(() => undefined, (e: Error) => e)
  t.match(err?.message, /waited over -1 ms/)
  t.equal(m.requests.length, 0, 'nothing was sent')
})

t.test('linger: an idle batcher sends at once; a busy one waits for the calls arriving meanwhile', async (t) => {
  const m = manualSend()
  const produce = createBatcher(m.send, { maxBatch: 100, maxWaitMs: 60_000, lingerMs: 20 })
  let next = m.nextRequest()
  const first = produce(1)
  await next
  t.same(m.requests[0].items, [1], 'idle: the first call goes alone, at once')
  const second = produce(2)
  next = m.nextRequest()
  m.requests[0].answer()
  await first
  // busy now: the batcher lingers before its next request, so calls made meanwhile join it
  const later = [3, 4].map((i) => produce(i))
  await next
  t.same(m.requests[1].items, [2, 3, 4], 'the calls that arrived while it lingered share the request')
  m.requests[1].answer()
  t.same(await Promise.all([second, ...later]), ['r2', 'r3', 'r4'])
})
