// The load generator through its real CLI: a tiny embedded run must account for every delivery.
// No latency assertions: performance is measured by the benchmark, never by a test.
import { execFile } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import { ChannelTally, SeqSet } from '../../scripts/bench/accounting.ts'
import { decodeFrame, encodeContent } from '../../scripts/bench/payload.ts'
import { parseOptions } from '../../scripts/bench/options.ts'

const run = promisify(execFile)
const CLI = new URL('../../scripts/bench/index.ts', import.meta.url).pathname
const bench = (args: string[]) => run(process.execPath, ['--import', 'tsx', CLI, ...args], { cwd: new URL('../..', import.meta.url).pathname, timeout: 120_000 })

t.test('a tiny embedded run accounts for every delivery and writes the JSON report', async (t) => {
  const file = join(t.testdir(), 'bench.json')
  const { stdout } = await bench(['--connections', '20', '--channels', '4', '--rate', '50', '--duration', '2', '--workers', '2', '--quiet', '--json', file])
  t.match(stdout, /p99 ms/, 'prints the table')
  const report = JSON.parse(await readFile(file, 'utf8'))
  for (const field of ['sent', 'expectedDeliveries', 'delivered', 'lost', 'duplicates', 'outOfOrder', 'deliveriesPerSec', 'httpErrors']) {
    t.type(report[field], 'number', `${field} is a number`)
  }
  for (const p of ['p50', 'p90', 'p99', 'p999', 'max']) t.type(report.latencyMs[p], 'number', `latencyMs.${p}`)
  t.equal(report.sent, 100, '50/s for 2 s')
  t.equal(report.httpErrors, 0)
  t.equal(report.expectedDeliveries, 100 * 5, 'each post reaches the 5 subscribers of its channel')
  t.equal(report.delivered, report.expectedDeliveries, 'delivered == expected')
  t.equal(report.lost, 0)
  t.equal(report.duplicates, 0)
  t.equal(report.outOfOrder, 0)
  t.equal(report.misrouted, 0)
  t.equal(report.latencyMs.count, report.delivered, 'every delivery was timed')
  t.match(report.config, { connections: 20, channels: 4, rates: [50], duration: 2, transport: 'uws' }, 'the configuration used')
  t.equal(report.ok, true)
})

t.test('bad options are refused with a message naming the option, before anything starts', async (t) => {
  const cases = [[['--rate', 'fast'], '--rate'], [['--transport', 'carrier-pigeon'], '--transport'], [['--channels', '9', '--connections', '3'], '--channels'], [['--size', '10'], '--size'], [['--bogus'], 'bogus']] as const
  for (const [args, named] of cases) t.throws(() => parseOptions([...args]), { name: 'Error', message: new RegExp(named) }, `${args.join(' ')} names ${named}`)
  // and through the CLI: exit code 2, the message on stderr, no server started
  const err = await bench(['--rate', '0']).then(() => undefined, (e: { code: number, stderr: string }) => e)
  t.equal(err?.code, 2)
  t.match(err?.stderr, /--rate must be an integer from 1/)
})

t.test('the tally counts duplicates, reorderings and losses exactly', async (t) => {
  const tally = new ChannelTally()
  t.same([0, 2, 1, 2, 5].map((s) => tally.record(s)), ['new', 'new', 'out-of-order', 'duplicate', 'new'])
  const acked = new SeqSet()
  for (const s of [0, 1, 2, 3, 4, 5, 9]) acked.add(s)
  // seen 0 1 2 5; acknowledged 0-5 and 9: 3, 4 and 9 were lost; nothing unacknowledged arrived
  t.same(tally.reconcile(acked, 7), { lost: 3, unacknowledged: 0, delivered: 4 })
  tally.record(2000) // past the bitmap's first size: it grows
  t.same(tally.reconcile(acked, 7), { lost: 3, unacknowledged: 1, delivered: 4 })
})

t.test('a frame stamp is read back from a protocol v1 event frame', async (t) => {
  const content = encodeContent(3, 41, 1_795_000_000_123_456, 80)
  t.equal(content.length, 80, 'padded to --size')
  const frame = JSON.stringify({ op: 'event', channel: 'c', type: 'message.created', data: { id: 'x', content } })
  t.same(decodeFrame(frame), { channel: 3, seq: 41, sentAt: 1_795_000_000_123_456 })
  t.equal(decodeFrame(JSON.stringify({ op: 'event', data: { content: 'hello' } })), undefined, 'other messages are ignored')
})
