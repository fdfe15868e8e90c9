// `npm run bench:markers`: its options, and a tiny run through its real CLI on the real services
// whose JSON report has the promised shape. No latency assertions: the benchmark measures, a test never does.
import { execFile } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import { channelOf, parseMarkersOptions } from '../../scripts/bench/markers-options.ts'
import { metricValue } from '../../scripts/bench/state-server.ts'
import { cleanupReal, realEnv, realNames, requireServices } from '../services.ts'

// These tests check the bench's accounting, not the server's capacity: a server they start shares
// the machine with the suite's other files, and would shed a tiny run's requests as overloaded
// (a 503 at event loop utilization 0.99 failed one). Shedding off for it, as test/helper.ts does.
process.env.SHED_EVENT_LOOP_DELAY_MS = '0'
process.env.SHED_EVENT_LOOP_UTILIZATION = '0'

const run = promisify(execFile)
const ROOT = new URL('../..', import.meta.url).pathname
const CLI = new URL('../../scripts/bench/markers.ts', import.meta.url).pathname

t.test('options: the issue\'s sizes by default, each one settable, bad ones refused', async (t) => {
  t.match(parseMarkersOptions([]), { users: 5000, group: 10, rate: 500, markers: 2000, duration: 30, concurrency: 64, drainQuiet: 3000, settle: 30, quiet: false })
  t.match(parseMarkersOptions(['--users', '40', '--group', '10', '--rate', '20', '--markers', '20', '--duration', '2', '--workers', '2', '--json', 'm.json', '--quiet']),
    { users: 40, group: 10, rate: 20, markers: 20, duration: 2, workers: 2, json: 'm.json', quiet: true })
  t.equal(parseMarkersOptions(['-h']), 'help')
  t.throws(() => parseMarkersOptions(['--users', '5', '--group', '10']), /--group \(10\) must not exceed --users \(5\)/)
  t.throws(() => parseMarkersOptions(['--users', '20', '--workers', '30']), /--workers \(30\) must not exceed --users \(20\)/)
  t.throws(() => parseMarkersOptions(['--markers', '0']), /--markers must be an integer from 1/)
  t.throws(() => parseMarkersOptions(['--nope']), /Unknown option '--nope'/)
  t.same([0, 9, 10, 25].map((u) => channelOf(u, 10)), [0, 0, 1, 2], 'channels of G users in order')
})

t.test('metricValue sums the matching samples of a Prometheus text', async (t) => {
  const text = [
    '# HELP switchboard_read_marker_writes_total x',
    'switchboard_read_marker_writes_total 12',
    'switchboard_events_handled_total{topic="read-markers",handler="read-markers-store",outcome="ok"} 30',
    'switchboard_events_handled_total{topic="read-markers",handler="read-markers-store",outcome="dead-letter"} 1',
    'switchboard_events_handled_total{topic="messages",handler="messages-store",outcome="ok"} 99'
  ].join('\n')
  t.equal(metricValue(text, 'switchboard_read_marker_writes_total'), 12)
  t.equal(metricValue(text, 'switchboard_events_handled_total', { handler: 'read-markers-store', outcome: 'ok' }), 30)
  t.equal(metricValue(text, 'switchboard_events_handled_total'), 130, 'every label set when none is named')
  t.equal(metricValue(text, 'switchboard_read_marker'), 0, 'a name is matched whole, never as a prefix')
})

t.test('a tiny run on the real services: every 204\'d marker durable, writes counted, the JSON report', async (t) => {
  if (!await requireServices(t, 'kafka', 'redis', 'mongo')) return
  const names = realNames('bench-markers')
  t.teardown(() => cleanupReal(names))
  const file = join(t.testdir(), 'markers.json')
  // exit code 1 when a marker failed or was not durable: the report (and its printout) says which
  const { stdout } = await run(process.execPath, ['--import', 'tsx', CLI, '--users', '20', '--group', '10', '--rate', '10', '--markers', '10', '--duration', '2', '--workers', '2', '--quiet', '--json', file],
    { cwd: ROOT, timeout: 180_000, env: { ...process.env, ...realEnv(names) } }).catch((err: { stdout?: string }) => ({ stdout: err.stdout ?? '' }))
  t.comment(stdout)
  const report = JSON.parse(await readFile(file, 'utf8'))
  t.equal(report.ok, true)
  t.equal(report.channels, 2)
  t.equal(report.messages.httpErrors, 0)
  t.equal(report.messages.delivered, report.messages.expectedDeliveries, 'each message reached the 10 users of its channel')
  t.equal(report.messages.expectedDeliveries, report.messages.acknowledged * 10)
  for (const k of ['p50', 'p99', 'max']) t.type(report.messages.latencyMs[k], 'number', `latencyMs.${k}`)
  t.ok(report.markers.answered > 0, 'markers were answered 204')
  t.equal(report.markers.failed, 0)
  t.equal(report.markers.skipped, 0, 'primed: every user had a message to mark from the first turn')
  t.equal(report.durability.behind, 0)
  t.ok(report.durability.users > 0 && report.durability.durable === report.durability.users, 'every user\'s furthest 204\'d marker is in the store')
  t.equal(report.store.markersHandled, report.markers.answered, 'every marker answered was handled by the store handler')
  t.ok(report.store.writes >= 1 && report.store.writes <= report.store.markersHandled, 'at most one write per marker, fewer when a batch holds several of one user and channel')
  t.type(report.store.writesPerSec, 'number')
  t.equal(report.loadAverage.length, 3)
})
