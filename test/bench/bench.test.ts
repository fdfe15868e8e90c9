// The load generator through its real CLI: a tiny embedded run must account for every delivery.
// No latency assertions: performance is measured by the benchmark, never by a test.
import { execFile, spawn } from 'node:child_process'
import { once } from 'node:events'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { Worker } from 'node:worker_threads'
import t, { type Test } from 'tap'
import { ChannelTally, SeqSet } from '../../scripts/bench/accounting.ts'
import { WebSocketServer } from 'ws'
import { SHED_RETRIES, openSubscriberHonouringShedding } from '../../scripts/bench/clients.ts'
import { centrifugoConfig, centrifugoPost, parseProcStat } from '../../scripts/bench/centrifugo.ts'
import { compare, compareApart, comparedTransports, ratio } from '../../scripts/bench/compare.ts'
import { decodeFrame, encodeContent, parseCentrifugoFrame } from '../../scripts/bench/payload.ts'
import { messagesPost, openPosterPool } from '../../scripts/bench/poster.ts'
import { parseOptions } from '../../scripts/bench/options.ts'
import { comparisonText, latencyNotes } from '../../scripts/bench/report.ts'
import type { BenchResult, StepResult } from '../../scripts/bench/result.ts'
import { busiestPartition, primaryOf, scriptNode } from '../../scripts/bench/failover.ts'
import { WORKER, instanceOf, postFailures, recoveryOf } from '../../scripts/bench/run.ts'
import type { WorkerFinal, WorkerReport, WorkerSetup } from '../../scripts/bench/worker.ts'
import { missingSharedServices } from '../../scripts/bench/target.ts'
import { realEnv, realNames, requireService, requireServices } from '../services.ts'

// These tests check the bench's accounting, not the server's capacity: a server they start shares
// the machine with the suite's other files, and would shed a tiny run's requests as overloaded
// (a 503 at event loop utilization 0.99 failed one). Shedding off for it, as test/helper.ts does.
process.env.SHED_EVENT_LOOP_DELAY_MS = '0'
process.env.SHED_EVENT_LOOP_UTILIZATION = '0'

const run = promisify(execFile)
const ROOT = new URL('../..', import.meta.url).pathname
const CLI = new URL('../../scripts/bench/index.ts', import.meta.url).pathname
const SERVE = new URL('../../scripts/bench/serve.ts', import.meta.url).pathname
const RATIOS = new URL('../../scripts/bench/ratios.ts', import.meta.url).pathname
const bench = (args: string[]) => run(process.execPath, ['--import', 'tsx', CLI, ...args], { cwd: ROOT, timeout: 120_000 })

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
  t.ok(report.timeline.length >= 2, 'a latency entry per second of the 2 s step (and of the drain)')
  t.same(report.timeline.map((s: { second: number }) => s.second), report.timeline.map((_: unknown, i: number) => i + 1), 'seconds numbered from 1')
  t.equal(report.timeline.reduce((n: number, s: { deliveries: number }) => n + s.deliveries, 0), report.latencyMs.count, 'the seconds hold every timed delivery')
  t.equal(report.timeline.reduce((n: number, s: { overSlo: number }) => n + s.overSlo, 0), report.overSlo, 'and every one over the objective')
  t.ok(report.overSlo <= report.latencyMs.count)
  for (const s of report.timeline) t.ok(s.deliveries === 0 || s.p99 <= s.max, `second ${s.second}: p99 ≤ max`)
  t.match(report.config, { connections: 20, channels: 4, rates: [50], duration: 2, transport: 'uws' }, 'the configuration used')
  t.equal(report.ok, true)
})

t.test('--warmup: posts before the measured window are neither timed nor counted', async (t) => {
  const file = join(t.testdir(), 'bench.json')
  await bench(['--connections', '20', '--channels', '4', '--rate', '50', '--duration', '1', '--warmup', '1', '--workers', '2', '--quiet', '--json', file])
  const report = JSON.parse(await readFile(file, 'utf8'))
  t.equal(report.sent, 50, 'the measured window alone: 50/s for 1 s (the warm-up posted as many again)')
  t.equal(report.delivered, report.expectedDeliveries, 'delivered == expected: the warm-up deliveries are not among them')
  t.equal(report.latencyMs.count, report.delivered, 'only measured deliveries were timed')
  t.equal(report.lost + report.duplicates + report.misrouted, 0)
  t.match(report.config, { warmup: 1 })
})

t.test('BENCH_SERVER_FLAGS reach the server\'s process alone, and the report says so', async (t) => {
  const file = join(t.testdir(), 'bench.json')
  await run(process.execPath, ['--import', 'tsx', CLI, '--connections', '4', '--channels', '2', '--rate', '20', '--duration', '1', '--workers', '1', '--quiet', '--json', file], {
    cwd: new URL('../..', import.meta.url).pathname,
    timeout: 120_000,
    env: { ...process.env, BENCH_SERVER_FLAGS: '--max-semi-space-size=8 --stack-size=2000' }
  })
  const report = JSON.parse(await readFile(file, 'utf8'))
  t.match(report.target, /; node --max-semi-space-size=8 --stack-size=2000$/, 'the server ran with the flags')
  t.equal(report.delivered, report.expectedDeliveries)
})

t.test('the generator opens its HTTP connections before the first timed post', async (t) => {
  let connections = 0
  const server = createServer((_req, res) => res.end('ok'))
  server.on('connection', () => { connections++ })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  const { port } = server.address() as AddressInfo
  const pool = await openPosterPool(`http://127.0.0.1:${port}`, 8, 4)
  t.teardown(() => pool.close())
  t.equal(connections, 4, 'as many connections as posts can be in flight, open before posting starts')
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

t.test('every transport, the references included, is selectable alone; Centrifugo is always started by the tool', async (t) => {
  for (const transport of ['uws', 'fastify', 'socketio', 'seed', 'centrifugo']) t.match(parseOptions(['--transport', transport]), { transport })
  t.match(parseOptions(['--transport', 'seed', '--target', 'http://10.0.0.1:3000']), { transport: 'seed', target: 'http://10.0.0.1:3000' })
  t.throws(() => parseOptions(['--transport', 'centrifugo', '--target', 'http://10.0.0.1:8000']), { message: /centrifugo.*--target/ })
})

t.test('--compare runs the seed only where its real services are configured', async (t) => {
  const real = { KAFKA_BROKERS: '127.0.0.1:9092', REDIS_URL: 'redis://127.0.0.1:6379', MONGO_URL: 'mongodb://127.0.0.1:27017' }
  t.same(comparedTransports(real), { transports: ['uws', 'fastify', 'socketio', 'seed', 'centrifugo'], skipped: [] })
  const embedded = comparedTransports({})
  t.same(embedded.transports, ['uws', 'fastify', 'socketio', 'centrifugo'])
  t.match(embedded.skipped, [/seed.*KAFKA_BROKERS, REDIS_URL, MONGO_URL not set/])
  t.match(comparedTransports({ ...real, MONGO_URL: '' }).skipped, [/MONGO_URL not set/])
})

t.test('the Centrifugo config: v6 nested keys, memory engine or Redis with the run\'s prefix, history on', async (t) => {
  const memory = centrifugoConfig({ port: 18000, apiKey: 'k' })
  t.same(memory.engine, { type: 'memory' })
  t.match(memory, {
    client: { insecure: true },
    http_api: { key: 'k' },
    http_server: { address: '127.0.0.1', port: 18000 },
    channel: { without_namespace: { history_size: 100, history_ttl: '300s', force_recovery: true } },
    usage_stats: { disabled: true }
  })
  const redis = centrifugoConfig({ port: 18001, apiKey: 'k', redisUrl: 'redis://127.0.0.1:6379', redisPrefix: 'sb-bench-cf-1' })
  t.same(redis.engine, { type: 'redis', redis: { address: ['redis://127.0.0.1:6379'], prefix: 'sb-bench-cf-1' } })
})

t.test('each target\'s post request: switchboard\'s POST /api/messages, Centrifugo\'s publish API with the same message as data', async (t) => {
  const message = { channelId: 'bench-1-0', content: encodeContent(0, 7, 1_795_000_000_000_000, 64), senderId: 'bench', senderName: 'bench' }
  const ours = messagesPost('jwt')
  t.equal(ours.path, '/api/messages')
  t.equal(ours.headers.authorization, 'Bearer jwt')
  t.same(JSON.parse(ours.body(message)), message)
  t.ok(ours.acknowledged(201, '{}'))
  t.notOk(ours.acknowledged(200, '{}'))
  t.notOk('authorization' in messagesPost().headers, 'no token, no header')

  const cf = centrifugoPost('secret')
  t.equal(cf.path, '/api/publish')
  t.equal(cf.headers['x-api-key'], 'secret')
  t.same(JSON.parse(cf.body(message)), { channel: 'bench-1-0', data: message })
  t.ok(cf.acknowledged(200, '{"result":{"offset":1,"epoch":"OQiDJROS"}}'))
  t.notOk(cf.acknowledged(200, '{"error":{"code":102,"message":"unknown channel"}}'), 'an error answered with 200 is not an acknowledgement')
  t.notOk(cf.acknowledged(401, ''))
})

t.test('Centrifugo frames: pushes carry the stamp, several replies share a frame a line each, {} is a ping', async (t) => {
  // as Centrifugo v6.9.1 sent them to the JSON client of clients.ts
  const content = encodeContent(2, 9, 1_795_000_000_123_456, 64)
  const push = JSON.stringify({ push: { channel: 'bench-1-2', pub: { data: { channelId: 'bench-1-2', content, senderId: 'bench', senderName: 'bench' }, offset: 10 } } })
  t.same(parseCentrifugoFrame(push), { replies: [], stamps: [{ channel: 2, seq: 9, sentAt: 1_795_000_000_123_456 }], pings: 0 })
  const connected = '{"id":1,"connect":{"client":"bb2a43c5","version":"0.0.0 OSS","ping":25,"pong":true}}\n{"id":2,"subscribe":{"recoverable":true,"epoch":"OQiDJROS","offset":1,"positioned":true}}'
  t.same(parseCentrifugoFrame(connected), { replies: [{ id: 1 }, { id: 2 }], stamps: [], pings: 0 })
  const batched = [push, '{}', push.replace(':9:', ':10:')].join('\n')
  const frame = parseCentrifugoFrame(batched)
  t.same(frame.stamps.map((s) => s.seq), [9, 10], 'every push of a batched frame is counted')
  t.equal(frame.pings, 1)
  t.same(parseCentrifugoFrame('{}'), { replies: [], stamps: [], pings: 1 })
  t.same(parseCentrifugoFrame('{"id":2,"error":{"code":103,"message":"permission denied"}}').replies, [{ id: 2, error: { code: 103, message: 'permission denied' } }])
  t.same(parseCentrifugoFrame(JSON.stringify({ push: { channel: 'c', pub: { data: { content: 'hello' } } } })).stamps, [], 'other publications are ignored')
})

t.test('/proc/<pid>/stat: utime and stime, whatever the process name holds', async (t) => {
  const stat = '4242 (centri fugo) (x)) S 1 4242 4242 0 -1 4194560 1234 0 0 0 731 98 0 0 20 0 12 0 5000 1000000 2000 18446744073709551615'
  t.same(parseProcStat(stat), { userTicks: 731, systemTicks: 98 })
  if (process.platform === 'linux') {
    const self = parseProcStat(await readFile('/proc/self/stat', 'utf8'))
    t.ok(Number.isInteger(self.userTicks) && Number.isInteger(self.systemTicks), 'reads this process\'s own line')
  }
  t.throws(() => parseProcStat('garbage'))
})

/** A step as run.ts reports it, with only what the comparison reads set. */
function step (transport: StepResult['transport'], rate: number, p99: number, cpuMicrosPerDelivery: number, lost = 0): StepResult {
  const deliveriesPerSec = rate * 10
  return {
    transport,
    target: 'test',
    rate,
    sent: rate,
    acknowledged: rate,
    httpErrors: 0,
    httpErrorsBy: {},
    expectedDeliveries: rate * 10,
    delivered: rate * 10 - lost,
    lost,
    duplicates: 0,
    outOfOrder: 0,
    misrouted: 0,
    deliveredWithoutAck: 0,
    disconnected: 0,
    latencyMs: { count: rate * 10, p50: p99 / 4, p90: p99 / 2, p99, p999: p99, max: p99, mean: p99 / 4 } as StepResult['latencyMs'],
    overSlo: 0,
    timeline: [],
    messagesPerSec: rate,
    deliveriesPerSec,
    generator: { workers: 2, workerMaxElu: 0, workerBusyShare: 0, workerEventLoopDelayP99Ms: 0, postsLate: 0, maxBehindScheduleMs: 0, postsQueuedForSlot: 0, saturated: false, reasons: [] },
    server: { cpuMs: 1, cpuSystemMs: 0, cpuPerSec: 0.1, cpuMicrosPerMessage: cpuMicrosPerDelivery * 10, cpuMicrosPerDelivery }
  }
}

t.test('the comparison: capacity at equal p99 and CPU per delivery of switchboard against each reference', async (t) => {
  t.equal(ratio(3, 2), 1.5)
  t.equal(ratio(1, 3), 0.33)
  t.equal(ratio(1, 0), null, 'no division by zero')
  t.equal(ratio(undefined, 2), null)
  const runs = [
    // uws sustains 400/s; socketio 100/s (p99 over 50 ms above); the seed loses messages from 200/s; centrifugo sustains all
    step('uws', 100, 5, 20), step('uws', 200, 8, 20), step('uws', 400, 30, 25),
    step('socketio', 100, 20, 60), step('socketio', 200, 80, 70), step('socketio', 400, 300, 75),
    step('seed', 100, 40, 100), step('seed', 200, 45, 100, 3), step('seed', 400, 900, 100, 50),
    step('centrifugo', 100, 2, 10), step('centrifugo', 200, 3, 10), step('centrifugo', 400, 4, 12.5)
  ]
  const c = compare(runs, [100, 200, 400], 50)
  t.equal(c.rate, 400)
  t.same(c.sustained, {
    uws: { rate: 400, deliveriesPerSec: 4000 },
    socketio: { rate: 100, deliveriesPerSec: 1000 },
    seed: { rate: 100, deliveriesPerSec: 1000 },
    centrifugo: { rate: 400, deliveriesPerSec: 4000 }
  }, 'fastify did not run: not listed')
  const by = Object.fromEntries(c.versus.map((v) => [`${v.ours}/${v.reference}`, v]))
  t.same(Object.keys(by), ['uws/socketio', 'uws/seed', 'uws/centrifugo'])
  t.match(by['uws/socketio'], { sustained: 4, cpuPerDelivery: 3, throughput: 1, p99: 10 })
  t.match(by['uws/seed'], { sustained: 4, cpuPerDelivery: 4 })
  t.match(by['uws/centrifugo'], { sustained: 1, cpuPerDelivery: 0.5, p99: 0.13 })

  // a reference that sustained nothing has no capacity ratio; a single rate has none at all
  const none = compare([step('uws', 100, 5, 20), step('uws', 200, 5, 20), step('seed', 100, 90, 100), step('seed', 200, 90, 100)], [100, 200], 50)
  t.equal(none.sustained?.seed, null)
  t.equal(none.versus[0].sustained, null)
  const single = compare([step('uws', 100, 5, 20), step('centrifugo', 100, 2, 10)], [100], 50)
  t.equal(single.sustained, undefined)
  t.match(single.versus, [{ ours: 'uws', reference: 'centrifugo', sustained: null, cpuPerDelivery: 0.5 }])

  const text = comparisonText(c)
  t.match(text, /uws vs socketio\s+4\.00×\s+3\.00×/)
  t.match(text, /sustained with p99 ≤ 50 ms and nothing lost: uws 400\/s/)
  t.match(comparisonText(single), /needs a sweep/)
})

/** A --json file's content: one transport's sweep on a workload. */
function sweep (runs: StepResult[], config: Partial<BenchResult['config']> = {}): BenchResult {
  return { startedAt: '', config: { connections: 5000, channels: 500, size: 64, duration: 10, sloP99: 50, ...config } as BenchResult['config'], host: { cpus: 2, loadAverage: [], node: '' }, runs, ok: true }
}

t.test('sweeps run apart (a generator elsewhere, --target) are compared when their workload is one', async (t) => {
  const ours = sweep([step('uws', 100, 5, 20), step('uws', 200, 8, 20), step('uws', 400, 90, 25)])
  const theirs = sweep([step('socketio', 200, 20, 60), step('socketio', 400, 30, 75), step('socketio', 800, 45, 80)])
  const c = compareApart([{ file: 'sb.json', result: ours }, { file: 'sio.json', result: theirs }])
  t.same(c.sustained, { uws: { rate: 200, deliveriesPerSec: 2000 }, socketio: { rate: 800, deliveriesPerSec: 8000 } })
  t.equal(c.rate, 400, 'throughput, p99 and CPU at the highest rate both ran, not at 800/s')
  t.match(c.versus, [{ ours: 'uws', reference: 'socketio', sustained: 0.25, cpuPerDelivery: 3, p99: 0.33 }])

  t.throws(() => compareApart([{ file: 'sb.json', result: ours }, { file: 'sio.json', result: sweep(theirs.runs, { channels: 100 }) }]),
    { message: 'sio.json ran --channels 100 and sb.json --channels 500: the ratios need one workload' })
  t.throws(() => compareApart([{ file: 'sb.json', result: ours }, { file: 'sio.json', result: sweep(theirs.runs, { sloP99: 20 }) }]), { message: /--slo-p99 20/ })
  t.throws(() => compareApart([{ file: 'sb.json', result: ours }, { file: 'x.json', result: {} as BenchResult }]), { message: 'x.json is not a bench result (npm run bench -- … --json FILE)' })
  t.throws(() => compareApart([{ file: 'a.json', result: theirs }, { file: 'b.json', result: theirs }]), { message: /no sweep of switchboard/ })
  t.throws(() => compareApart([{ file: 'a.json', result: ours }, { file: 'b.json', result: ours }]), { message: /no sweep of a reference/ })

  // the command reads the files and prints the ratios
  const dir = t.testdir({ 'sb.json': JSON.stringify(ours), 'sio.json': JSON.stringify(theirs), 'other.json': JSON.stringify(sweep(theirs.runs, { connections: 10 })) })
  const ratios = (...files: string[]) => run(process.execPath, ['--import', 'tsx', RATIOS, ...files.map((f) => join(dir, f))], { cwd: ROOT })
  const { stdout } = await ratios('sb.json', 'sio.json')
  t.match(stdout, /uws vs socketio\s+0\.25×/)
  await t.rejects(ratios('sb.json', 'other.json'), { code: 2, stderr: /--connections 10 and .*--connections 5000: the ratios need one workload/ })
})

t.test('a reference serves on its own, by hand, for a generator elsewhere (--target)', async (t) => {
  if (!await requireService(t, 'redis')) return
  // no IPC: the reference listens where it is told and prints its URL
  const server = spawn(process.execPath, ['--import', 'tsx', SERVE, 'socketio', '--port', '0'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] })
  t.teardown(() => { server.kill('SIGKILL') })
  const [url] = await new Promise<string[]>((resolve, reject) => {
    let out = ''
    server.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString()
      const found = /serving (http:\/\/127\.0\.0\.1:\d+)/.exec(out)
      if (found) resolve([found[1]])
    })
    server.once('exit', (code) => reject(new Error(`the reference exited (${code}) before serving: ${out}`)))
  })
  const file = join(t.testdir(), 'sio.json')
  await bench(['--target', url, '--transport', 'socketio', '--connections', '20', '--channels', '4', '--rate', '50', '--duration', '1', '--workers', '2', '--quiet', '--json', file])
  const report = JSON.parse(await readFile(file, 'utf8'))
  t.equal(report.target, 'external')
  t.equal(report.sent, 50)
  t.equal(report.delivered, report.expectedDeliveries, 'every post reached the 5 subscribers of its channel')
  t.equal(report.lost + report.duplicates + report.outOfOrder + report.misrouted, 0)
  const exited = once(server, 'exit')
  server.kill('SIGTERM')
  t.same(await exited, [0, null], 'Ctrl-C (SIGTERM here) closes it cleanly')
})

t.test('by hand, a bad kind or port is refused with a message, not served', async (t) => {
  const serve = (...args: string[]) => run(process.execPath, ['--import', 'tsx', SERVE, ...args], { cwd: ROOT })
  await t.rejects(serve('switchboard'), { code: 1, stderr: /npm start/ }, 'switchboard serves with npm start')
  await t.rejects(serve(), { code: 1, stderr: /unknown server kind "": socketio or seed/ })
  await t.rejects(serve('socketio', '--port', 'x'), { code: 1, stderr: /--port must be a port number/ })
  await t.rejects(serve('socketio', '--bogus'), { code: 2, stderr: /Unknown option '--bogus'/ })
  await t.rejects(run(process.execPath, ['--import', 'tsx', SERVE, 'seed'], { cwd: ROOT, env: { ...process.env, KAFKA_BROKERS: '127.0.0.1:9092', REDIS_URL: '', MONGO_URL: '' } }),
    { code: 1, stderr: /the seed's design runs on the real services: set REDIS_URL, MONGO_URL\n/ }, 'the seed needs its services, named')
})

t.test('a subscriber whose upgrade is shed (503 + Retry-After) comes back as asked; other refusals fail at once', async (t) => {
  const wss = new WebSocketServer({ noServer: true })
  let upgrades = 0
  let shedFirst = 2
  let refuse = false
  const server = createServer()
  server.on('upgrade', (req, socket, head) => {
    upgrades++
    if (refuse) return socket.end('HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n')
    if (shedFirst-- > 0) return socket.end('HTTP/1.1 503 Service Unavailable\r\nretry-after: 2\r\ncontent-length: 0\r\n\r\n')
    wss.handleUpgrade(req, socket, head, (ws) => ws.on('message', () => ws.send(JSON.stringify({ op: 'subscribed' }))))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { wss.close(); server.close() })
  const url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/ws`
  const waited: number[] = []
  const wait = async (seconds: number) => { waited.push(seconds) }
  const opts = { kind: 'uws' as const, url, channel: 'c', onStamp () {}, onLost () {} }

  const subscriber = await openSubscriberHonouringShedding(opts, wait)
  t.equal(upgrades, 3, 'two shed upgrades, then the one accepted')
  t.same(waited, [2, 2], 'each time after the Retry-After it was given')
  subscriber.close()

  upgrades = 0
  waited.length = 0
  shedFirst = Infinity
  await t.rejects(openSubscriberHonouringShedding(opts, wait), /upgrade shed \(503, Retry-After 2\)/, 'a server that keeps shedding fails the subscriber in the end')
  t.equal(upgrades, SHED_RETRIES + 1, 'after the last retry')

  upgrades = 0
  refuse = true
  await t.rejects(openSubscriberHonouringShedding(opts, wait), /upgrade answered 403/, 'a refusal is no invitation to come back')
  t.equal(upgrades, 1)
})

t.test('a missed p99 is shown by second, and a cold first second is named', async (t) => {
  const second = (n: number, p99: number, overSlo: number) => ({ second: n, deliveries: 1000, p99, max: p99 * 1.5, overSlo })
  const cold = { ...step('uws', 500, 62.5, 25), overSlo: 100, timeline: [second(1, 68.5, 90), second(2, 31, 10), second(3, 24.2, 0)] }
  t.same(latencyNotes(cold, 50), [
    'uws 500/s: p99 by second (ms): 68.5 31.0 24.2',
    'uws 500/s: 90 of the 100 deliveries over 50 ms (90%) came in the first second: a cold start; --warmup S measures after it'
  ])
  const steady = { ...cold, timeline: [second(1, 60, 30), second(2, 61, 35), second(3, 58, 35)] }
  t.same(latencyNotes(steady, 50), ['uws 500/s: p99 by second (ms): 60.0 61.0 58.0'], 'spread over the run: no cold-start note')
  t.same(latencyNotes({ ...cold, latencyMs: { ...cold.latencyMs, p99: 40 } }, 50), [], 'nothing to explain under the objective')
  const long = { ...steady, timeline: Array.from({ length: 25 }, (_, i) => second(i + 1, 55, 1)) }
  t.match(latencyNotes(long, 50)[0], / …$/, 'at most 20 seconds listed')
})

t.test('--instances, --target lists and --fail are parsed, and what cannot work is refused', async (t) => {
  t.match(parseOptions([]), { instances: 1, fail: undefined, targets: undefined }, 'one instance, no failure by default')
  t.match(parseOptions(['--instances', '3']), { instances: 3 })
  t.match(parseOptions(['--target', 'http://a:3000,http://b:3000', '--ws-url', 'ws://a:5002/ws,ws://b:5002/ws']),
    { target: 'http://a:3000', wsUrl: 'ws://a:5002/ws', targets: ['http://a:3000', 'http://b:3000'], wsUrls: ['ws://a:5002/ws', 'ws://b:5002/ws'], instances: 2 }, 'a list names the instances of a deployment')
  t.match(parseOptions(['--target', 'http://a:3000']), { target: 'http://a:3000', targets: undefined, instances: 1 }, 'one URL reads as before')
  t.match(parseOptions(['--fail', 'broker@5']), { fail: { what: 'broker', at: 5 } })
  t.match(parseOptions(['--fail', 'instance@3', '--instances', '2']), { fail: { what: 'instance', at: 3 } })
  const refused: Array<[string[], RegExp]> = [
    [['--instances', '0'], /--instances must be an integer from 1/],
    [['--target', 'http://a:3000,http://b:3000', '--instances', '3'], /--instances \(3\) must match the 2 --target URLs/],
    [['--target', 'http://a:3000,http://b:3000', '--ws-url', 'ws://a:5002/ws'], /--ws-url names 1 URLs for 2 --target URLs/],
    [['--target', 'http://a:3000,ftp://b'], /--target must be a http: or https: URL/],
    [['--instances', '2', '--transport', 'socketio'], /--instances starts switchboard instances/],
    [['--instances', '2', '--compare'], /--instances cannot be combined with --compare/],
    [['--fail', 'disk@3'], /--fail must be broker\|redis\|instance@SECONDS/],
    [['--fail', 'broker'], /--fail must be/],
    [['--fail', 'broker@10', '--duration', '10'], /inside the measured window/],
    [['--fail', 'broker@2', '--rate', '10,20'], /--fail runs one step/],
    [['--fail', 'instance@2'], /--fail instance needs --instances 2 or more/],
    [['--fail', 'instance@2', '--target', 'http://a:3000,http://b:3000'], /kills an instance this tool started/],
    [['--fail', 'redis@2', '--transport', 'centrifugo'], /--fail measures switchboard/]
  ]
  for (const [args, message] of refused) t.throws(() => parseOptions(args), { message }, args.join(' '))
})

t.test('sockets are spread so that every channel has subscribers on every instance, evenly', async (t) => {
  for (const [connections, channels, instances] of [[20, 5, 2], [20, 4, 2], [5000, 500, 2], [30, 3, 3], [10, 1, 4]]) {
    const on = Array.from({ length: channels }, () => new Set<number>())
    const load = Array.from({ length: instances }, () => 0)
    for (let i = 0; i < connections; i++) {
      const instance = instanceOf(i, channels, instances)
      on[i % channels].add(instance)
      load[instance]++
    }
    const per = Math.floor(connections / channels)
    t.ok(on.every((set) => set.size === Math.min(instances, per)), `${connections} over ${channels} channels on ${instances}: each channel on ${Math.min(instances, per)} instances`)
    t.ok(Math.max(...load) - Math.min(...load) <= Math.ceil(connections / channels), `and the instances hold ${load.join(', ')} sockets`)
  }
  t.equal(instanceOf(7, 5, 1), 0, 'one instance holds everything')
})

t.test('the failover figures: 503s apart from other 5xx, and the seconds until p99 is back under the objective', async (t) => {
  t.same(postFailures({ sent: 0, acknowledged: 0, httpErrors: 0, shed: 4, errorsBy: { 503: 2, 500: 1, 502: 1, 400: 3, SocketError: 5 }, behindScheduleMs: 0, maxBehindScheduleMs: 0, postsLate: 0, queuedForSlot: 0 }),
    { posts503: 6, postsOther5xx: 2, postsUnanswered: 5 }, '503 with or without Retry-After; 4xx are neither')
  const second = (i: number, p99: number, deliveries = 10) => ({ second: i + 1, deliveries, p99, max: p99, overSlo: 0 })
  const timeline = [5, 6, 7, 300, 900, 80, 30, 20, 0].map((p99, i) => second(i, p99, p99 === 0 ? 0 : 10))
  t.same(recoveryOf(timeline, 3.4, 50), { p99FromKill: [300, 900, 80, 30, 20, null], underSloAfterSec: 2.6 }, 'under 50 ms from second 6 on: 2.6 s after a kill at 3.4 s; an empty second counts for nothing')
  t.same(recoveryOf(timeline.slice(0, 6), 3.4, 50).underSloAfterSec, null, 'still over at the end: never back')
  t.same(recoveryOf(timeline.slice(0, 3), 1.2, 50), { p99FromKill: [6, 7], underSloAfterSec: 0 }, 'never over: 0')
})

t.test('--fail finds its node: the leader of the partition most channels hash to, a healthy Redis primary', async (t) => {
  const partitions = [0, 1, 2].map((partitionId) => ({ partitionId, leader: partitionId + 1, partitionErrorCode: 0, replicas: [1, 2, 3], isr: [1, 2, 3] }))
  const { Partitioners } = await import('kafkajs')
  const place = Partitioners.DefaultPartitioner()
  const channels = Array.from({ length: 30 }, (_, i) => `bench-x-${i}`)
  const counts = [0, 0, 0]
  for (const key of channels) counts[place({ topic: 'm', partitionMetadata: partitions, message: { key, value: null } })]++
  const { partition, count } = busiestPartition(channels, 'm', partitions)
  t.equal(count, Math.max(...counts))
  t.equal(counts[partition], count, `partition ${partition} holds the most channels (${counts.join(', ')})`)
  const nodes = [
    'a1 127.0.0.1:7002@17002 master - 0 1 2 connected 5461-10922',
    'b2 127.0.0.1:7004@17004 slave a1 0 1 2 connected',
    'c3 127.0.0.1:7001@17001 master,fail - 0 1 1 disconnected 0-5460',
    'd4 127.0.0.1:7003@17003 myself,master - 0 1 3 connected 10923-16383',
    ''
  ].join('\n')
  t.same(primaryOf(nodes), { address: '127.0.0.1:7002', port: 7002, slots: '5461-10922' }, 'a failed primary and replicas are passed over')
  t.equal(primaryOf('b2 127.0.0.1:7004@17004 slave a1 0 1 2 connected'), undefined)
  // only nodes of the services script's cluster are killed, named by their port
  t.equal(scriptNode('kafka', 19093, {}), 'kafka-2')
  t.equal(scriptNode('redis', 7006, {}), 'redis-6')
  t.equal(scriptNode('kafka', 39091, { CLUSTER_KAFKA_PORT_BASE: '39090' }), 'kafka-1', 'the port bases of a private cluster')
  t.throws(() => scriptNode('kafka', 9092, {}), { message: /port 9092 is not a node of scripts\/services.sh up --cluster \(kafka-1..3 on ports 19092-19094/ }, 'a single broker is never killed')
  t.throws(() => scriptNode('redis', 6379, {}), { message: /redis-1..6 on ports 7001-7006/ })
})

t.test('--instances 2 is refused without shared services, before anything starts', async (t) => {
  t.same(missingSharedServices({ KAFKA_BROKERS: 'k:9092', REDIS_CLUSTER_NODES: 'r:7001', MONGO_URL: 'mongodb://m' }), [])
  t.same(missingSharedServices({ REDIS_URL: 'redis://r' }), ['KAFKA_BROKERS', 'MONGO_URL'])
  const err = await run(process.execPath, ['--import', 'tsx', CLI, '--instances', '2', '--connections', '4', '--channels', '2', '--quiet'], {
    cwd: ROOT, timeout: 60_000, env: { ...process.env, KAFKA_BROKERS: '', REDIS_URL: '', REDIS_CLUSTER_NODES: '', MONGO_URL: '' }
  }).then(() => undefined, (e: { code: number, stderr: string }) => e)
  t.equal(err?.code, 1)
  t.match(err?.stderr, /--instances 2 needs services the instances share.*KAFKA_BROKERS, REDIS_URL or REDIS_CLUSTER_NODES, MONGO_URL/)
})

// Two instances of one deployment: the run's own topics, key prefix and database, shared by both.
const deployment = () => ({ ...process.env, ...realEnv(realNames('bench-instances')), INSTANCE_ID: '' })

t.test('--instances 2 on the real services: sockets and posts on both, every delivery accounted for, CPU by instance', async (t) => {
  if (!await requireServices(t, 'kafka', 'redis', 'mongo')) return
  const file = join(t.testdir(), 'bench.json')
  await run(process.execPath, ['--import', 'tsx', CLI, '--instances', '2', '--connections', '20', '--channels', '5', '--rate', '20', '--duration', '2', '--workers', '2', '--quiet', '--json', file], { cwd: ROOT, timeout: 300_000, env: deployment() })
  const report = JSON.parse(await readFile(file, 'utf8'))
  t.match(report.target, /^kafka, redis, mongodb; 2 instances$/)
  t.equal(report.sent, 40)
  t.equal(report.httpErrors, 0)
  t.equal(report.expectedDeliveries, 40 * 4, 'each post reaches the 4 subscribers of its channel, on both instances')
  t.equal(report.delivered, report.expectedDeliveries)
  t.equal(report.lost + report.duplicates + report.outOfOrder + report.misrouted, 0)
  t.equal(report.instances.length, 2, 'CPU reported by instance')
  t.ok(report.instances.every((i: { cpuMs: number }) => i.cpuMs > 0), 'both instances worked')
  // each figure is rounded to 0.01 ms on its own: the sum of the rounded parts may differ by one unit per part
  const parts = report.instances[0].cpuMs + report.instances[1].cpuMs
  t.ok(Math.abs(report.server.cpuMs - parts) <= 0.02 + 1e-9, `and summed (${report.server.cpuMs} against ${parts})`)
  t.match(report.config, { instances: 2 })
})

t.test('--fail instance on the real services: the killed instance\'s sockets come back, nothing lost or doubled', async (t) => {
  if (!await requireServices(t, 'kafka', 'redis', 'mongo')) return
  const file = join(t.testdir(), 'bench.json')
  const { stdout } = await run(process.execPath, ['--import', 'tsx', CLI, '--instances', '2', '--fail', 'instance@2', '--connections', '20', '--channels', '5', '--rate', '20', '--duration', '5', '--workers', '2', '--quiet', '--json', file], { cwd: ROOT, timeout: 300_000, env: deployment() })
  const report = JSON.parse(await readFile(file, 'utf8'))
  const f = report.failover
  t.match(f, { what: 'instance', at: 2, node: 'instance 1', postsOther5xx: 0 })
  t.equal(f.error, undefined, 'the kill went through')
  t.equal(f.reconnect.sockets, 10, 'the first instance held half of the 20 sockets')
  t.equal(f.reconnect.reconnected, 10, 'every one came back')
  t.equal(f.reconnect.notBack, 0)
  t.equal(f.reconnect.recovered + f.reconnect.reloaded, 10, 'each by a replay or a history reload')
  t.equal(report.lost, 0, 'every acknowledged post reached every subscriber')
  t.equal(report.duplicates, 0)
  t.equal(report.outOfOrder, 0)
  t.equal(report.delivered, report.expectedDeliveries)
  t.ok(f.reconnect.liveAgainMs.max >= f.reconnect.liveAgainMs.p50)
  t.match(stdout, /--fail instance@2: 10 of 10 sockets back/)
})

/**
 * Two fake instances: the first drops its socket (killed), the second takes the resubscribe and
 * answers it as `answer` says; the second serves the channel's history over HTTP as well.
 */
async function storm (t: Test, answer: 'replay' | 'reload') {
  const event = (seq: number) => JSON.stringify({ op: 'event', channel: 'ch-0', position: { epoch: 'e1', offset: String(100 + seq) }, type: 'message.created', data: { id: `m${seq}`, content: encodeContent(0, seq, Date.now() * 1000, 64) } })
  const first = new WebSocketServer({ port: 0, host: '127.0.0.1' })
  await once(first, 'listening')
  const history = createServer((req, res) => {
    t.match(req.url, /^\/api\/channels\/ch-0\/messages\?limit=100/, 'the channel\'s history is read')
    res.setHeader('content-type', 'application/json')
    res.end(JSON.stringify({ messages: [4, 3, 2, 1].map((seq) => ({ id: `m${seq}`, content: encodeContent(0, seq, Date.now() * 1000, 64) })), nextBefore: null }))
  })
  const second = new WebSocketServer({ server: history })
  await new Promise<void>((resolve) => history.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { first.close(); second.close(); history.close() })
  let dropFirst = () => {}
  first.on('connection', (ws) => ws.on('message', () => {
    ws.send(JSON.stringify({ op: 'subscribed', channel: 'ch-0', position: null, recovered: false }))
    ws.send(event(0))
    ws.send(event(1))
    dropFirst = () => ws.terminate()
  }))
  const since = new Promise<unknown>((resolve) => second.on('connection', (ws) => ws.on('message', (data: Buffer) => {
    const frame = JSON.parse(data.toString())
    resolve(frame.since)
    if (answer === 'replay') {
      ws.send(JSON.stringify({ op: 'subscribed', channel: 'ch-0', position: { epoch: 'e1', offset: '101' }, recovered: true }))
      for (const seq of [2, 3, 4]) ws.send(event(seq))
    } else {
      ws.send(JSON.stringify({ op: 'subscribed', channel: 'ch-0', position: { epoch: 'e1', offset: '104' }, recovered: false }))
      ws.send(event(4)) // live while the client reloads: in the page too, counted once
    }
  })))
  const { port: wsPort } = first.address() as AddressInfo
  const { port: apiPort } = history.address() as AddressInfo
  const setup: WorkerSetup = { kind: 'uws', urls: [`ws://127.0.0.1:${wsPort}`, `ws://127.0.0.1:${apiPort}`], apiUrls: ['http://127.0.0.1:1', `http://127.0.0.1:${apiPort}`], channels: ['ch-0'], assignments: [0], instances: [0], reportEveryMs: 50, sloMicros: 50_000, resubscribe: true }
  const worker = new Worker(WORKER, { eval: true, workerData: setup })
  t.teardown(() => worker.terminate())
  const reports: WorkerReport[] = []
  const reported = (done: (r: WorkerReport) => boolean) => new Promise<void>((resolve) => {
    const check = (m: WorkerReport) => { if (m.type === 'report') { reports.push(m); if (done(m)) { worker.off('message', check); resolve() } } }
    worker.on('message', check)
  })
  await reported((r) => r.delivered === 2)
  worker.postMessage({ type: 'down', instance: 0 })
  dropFirst()
  t.same(await since, { epoch: 'e1', offset: '101' }, 'it resubscribes on the survivor from the last position it saw')
  await reported((r) => r.delivered === 5)
  const acked = new SeqSet()
  for (const seq of [0, 1, 2, 3, 4]) acked.add(seq)
  const final = new Promise<WorkerFinal>((resolve) => worker.on('message', (m: WorkerFinal) => { if (m.type === 'final') resolve(m) }))
  worker.postMessage({ type: 'finish', acked: [{ bits: acked.bits, count: 5 }] })
  return await final
}

t.test('--fail instance: a socket of the killed instance comes back and a replay counts once, in order', async (t) => {
  const final = await storm(t, 'replay')
  t.match(final, { delivered: 5, lost: 0, duplicates: 0, outOfOrder: 0, disconnected: 1, reconnected: 1, recovered: 1, reloaded: 0, notBack: 0 })
  t.equal(final.liveAgainMs.length, 1, 'its time to live again is reported')
})

t.test('--fail instance: after recovered: false the history reload counts what the socket had not seen, once', async (t) => {
  const final = await storm(t, 'reload')
  t.match(final, { delivered: 5, lost: 0, duplicates: 0, outOfOrder: 0, reconnected: 1, recovered: 0, reloaded: 1, reloadedDeliveries: 3, notBack: 0 })
})
