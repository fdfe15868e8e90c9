// Single-flight reads: concurrent callers of one key share one read; a settled read is forgotten.
import t from 'tap'
import { createSingleFlight } from '../../plugins/single-flight.ts'

t.test('concurrent callers of one key share one read, other keys read their own', async (t) => {
  const flights = createSingleFlight<string>()
  let reads = 0
  let release!: () => void
  const gate = new Promise<void>((resolve) => { release = resolve })
  const read = (value: string) => async () => { reads++; await gate; return value }
  const same = Array.from({ length: 5 }, () => flights.run('a', read('A')))
  const other = flights.run('b', read('B'))
  t.equal(flights.size, 2)
  release()
  t.same(await Promise.all(same), ['A', 'A', 'A', 'A', 'A'])
  t.equal(await other, 'B')
  t.equal(reads, 2, 'one read per key')
  t.equal(flights.size, 0, 'nothing kept once settled')
  t.equal(await flights.run('a', read('A again')), 'A again', 'a later caller reads afresh')
})

t.test('a failed read fails every caller that shared it, and the next caller reads again', async (t) => {
  const flights = createSingleFlight<string>()
  const failing = async () => { throw new Error('down') }
  await t.rejects(Promise.all([flights.run('k', failing), flights.run('k', failing)]), { message: 'down' })
  t.equal(await flights.run('k', async () => 'up'), 'up')
})
