import t from 'tap'
import { writeInChunks } from '../../plugins/external/mongo-bulk.ts'

t.test('writes in order, in chunks of at most max, one at a time', async (t) => {
  const written: number[][] = []
  let inFlight = 0
  let most = 0
  await writeInChunks([1, 2, 3, 4, 5, 6, 7], 3, async (chunk) => {
    most = Math.max(most, ++inFlight)
    await new Promise<void>((resolve) => setImmediate(resolve)) // a round trip: the next chunk must wait for it
    written.push(chunk)
    inFlight--
  })
  t.same(written, [[1, 2, 3], [4, 5, 6], [7]])
  t.equal(most, 1, 'never two chunks in flight')
})

t.test('the first failing chunk is thrown and nothing after it is written', async (t) => {
  const written: number[][] = []
  const failure = new Error('chunk 2 failed')
  await t.rejects(writeInChunks([1, 2, 3, 4, 5], 2, async (chunk) => {
    if (chunk[0] === 3) throw failure
    written.push(chunk)
  }), failure)
  t.same(written, [[1, 2]])
})

t.test('nothing to write: no call; a bad chunk size fails loudly', async (t) => {
  let calls = 0
  await writeInChunks([], 2, async () => { calls++ })
  t.equal(calls, 0)
  await t.rejects(writeInChunks([1], 0, async () => {}), RangeError)
})
