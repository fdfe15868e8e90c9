// `npm run bench:unread`: its options, and a tiny run through its real CLI on the real services
// whose JSON report has the promised shape. No latency assertions: the benchmark measures, a test never does.
import { execFile } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import { OptionsError } from '../../scripts/bench/options.ts'
import { parseUnreadOptions } from '../../scripts/bench/unread-options.ts'
import { cleanupReal, realEnv, realNames, requireServices } from '../services.ts'

// These tests check the bench's accounting, not the server's capacity: a server they start shares
// the machine with the suite's other files, and would shed a tiny run's requests as overloaded
// (a 503 at event loop utilization 0.99 failed one). Shedding off for it, as test/helper.ts does.
process.env.SHED_EVENT_LOOP_DELAY_MS = '0'
process.env.SHED_EVENT_LOOP_UTILIZATION = '0'

const run = promisify(execFile)
const ROOT = new URL('../..', import.meta.url).pathname
const CLI = new URL('../../scripts/bench/unread.ts', import.meta.url).pathname

t.test('options: the issue\'s sizes by default, each one settable, bad ones refused', async (t) => {
  t.match(parseUnreadOptions([]), { channels: 100, messages: 1000, growTo: 100_000, grown: 10, rate: 50, duration: 30, warmup: 2, quiet: false })
  t.match(parseUnreadOptions(['--channels', '3', '--messages', '20', '--grow-to', '200', '--grown', '1', '--rate', '20', '--duration', '1', '--warmup', '0', '--json', 'out.json', '--quiet']),
    { channels: 3, messages: 20, growTo: 200, grown: 1, rate: 20, duration: 1, warmup: 0, json: 'out.json', quiet: true })
  t.equal(parseUnreadOptions(['--help']), 'help')
  t.match(parseUnreadOptions(['--grown', '0', '--grow-to', '5']), { grown: 0 }, '--grown 0: one measurement, --grow-to unused')
  t.throws(() => parseUnreadOptions(['--channels', '0']), /--channels must be an integer from 1/)
  t.throws(() => parseUnreadOptions(['--rate', 'fast']), /--rate must be an integer/)
  t.throws(() => parseUnreadOptions(['--channels', '5', '--grown', '6']), /--grown \(6\) must not exceed --channels \(5\)/)
  t.throws(() => parseUnreadOptions(['--messages', '100', '--grow-to', '100']), /--grow-to \(100\) must exceed --messages/)
  t.throws(() => parseUnreadOptions(['--bogus']), /Unknown option '--bogus'/, 'unknown options are refused')
  try { parseUnreadOptions(['--rate', '0']) } catch (err) { t.ok(err instanceof OptionsError, 'an OptionsError: the CLI prints the usage with it') }
})

t.test('a tiny run on the real services: both phases measured, every request answered, the JSON report', async (t) => {
  if (!await requireServices(t, 'kafka', 'redis', 'mongo')) return
  const names = realNames('bench-unread')
  t.teardown(() => cleanupReal(names))
  const file = join(t.testdir(), 'unread.json')
  const { stdout } = await run(process.execPath, ['--import', 'tsx', CLI, '--channels', '3', '--messages', '20', '--grow-to', '60', '--grown', '1', '--rate', '10', '--duration', '1', '--warmup', '0', '--quiet', '--json', file],
    { cwd: ROOT, timeout: 180_000, env: { ...process.env, ...realEnv(names) } })
  t.match(stdout, /p99 ratio grown\/filled/, 'prints the ratio')
  const report = JSON.parse(await readFile(file, 'utf8'))
  t.equal(report.ok, true, 'every request answered 200 with every channel')
  t.same(report.phases.map((p: { name: string }) => p.name), ['filled', 'grown'])
  const [filled, grown] = report.phases
  t.same(filled.messages, { min: 21, max: 21 }, 'the reader\'s post and 20 produced in bulk')
  t.same(grown.messages, { min: 21, max: 60 }, 'one channel grown to 60')
  t.same([filled.counts.unreadMin, filled.counts.unreadMax], [20, 20], 'the 20 after the marker are unread, the reader\'s own post is not')
  t.same([grown.counts.unreadMin, grown.counts.unreadMax], [20, 59])
  t.equal(grown.counts.mentionsMax, 2, 'each fill ends with a mention of the reader: how the bench knows it is indexed')
  for (const p of report.phases) {
    t.equal(p.sent, 10, `${p.name}: 10/s for 1 s`)
    t.equal(p.ok, 10)
    for (const k of ['p50', 'p99', 'max']) t.type(p.latencyMs[k], 'number', `${p.name}: latencyMs.${k}`)
    t.equal(p.loadAverage.length, 3, 'the load average')
    t.equal(p.lagAtMeasure, 0, `${p.name}: measured once the server's consumers had handled the fill`)
  }
  t.type(report.p99Ratio, 'number')
  t.match(report.targets, { p99Ms: 20, ratio: 1.5 })
})
