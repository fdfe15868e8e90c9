// Start-up says what it waits for: a slow dependency is named in the log while the app waits.
import t from 'tap'
import { Writable } from 'node:stream'
import Fastify from 'fastify'
import { pino } from 'pino'
import App, { serverOptions } from '../../app.ts'
import { loadConfig } from '../../config.ts'
import { createEmbeddedBus } from '../../plugins/bus/embedded.ts'
import { waitingFor } from '../../plugins/external/start-up.ts'

/** A logger whose lines are handed to `onLine` as objects. */
function capture (onLine: (line: Record<string, unknown>) => void) {
  const stream = new Writable({ write (chunk, _encoding, done) { for (const l of chunk.toString().split('\n').filter(Boolean)) onLine(JSON.parse(l)); done() } })
  return pino({ level: 'info' }, stream)
}

t.test('waitingFor logs what it waits for until the work settles, then stops', async (t) => {
  let release!: () => void
  const work = new Promise<string>((resolve) => { release = () => resolve('done') })
  const lines: Array<Record<string, unknown>> = []
  let seen!: () => void
  const logged = new Promise<void>((resolve) => { seen = resolve })
  const log = capture((line) => { lines.push(line); seen() })
  const waiting = waitingFor(log, 'Kafka at k:9092: creating topics', work, 5)
  await logged
  t.match(lines[0], { level: 40, waitingFor: 'Kafka at k:9092: creating topics', msg: /^start-up waiting for Kafka at k:9092: creating topics \(\d+ s so far\)$/ })
  release()
  t.equal(await waiting, 'done', 'the work\'s result')
  const count = lines.length
  await new Promise<void>((resolve) => setImmediate(resolve))
  t.equal(lines.length, count, 'nothing logged once it settled')
})

t.test('waitingFor passes a failure through unchanged', async (t) => {
  const log = capture(() => {})
  await t.rejects(waitingFor(log, 'x', Promise.reject(new Error('Kafka at k unavailable: creating topics failed')), 5), /creating topics failed/)
})

t.test('an app whose log is slow to create topics names it in the log, then starts', async (t) => {
  const bus = createEmbeddedBus({ topicPrefix: '', partitions: 1, instanceId: 'slow' })
  let release!: () => void
  const gate = new Promise<void>((resolve) => { release = resolve })
  const ensureTopics = bus.ensureTopics.bind(bus)
  // the topic handlers' topics (other plugins create theirs without waiting on this gate)
  bus.ensureTopics = async (names) => { if (names.includes('messages')) await gate; return ensureTopics(names) }
  const config = loadConfig({}, { PORT: 0, WS_PORT: 0, LOG_LEVEL: 'info', SHED_EVENT_LOOP_DELAY_MS: 0, SHED_EVENT_LOOP_UTILIZATION: 0 })
  const lines: Array<Record<string, unknown>> = []
  const stream = new Writable({
    write (chunk, _encoding, done) {
      for (const l of chunk.toString().split('\n').filter(Boolean)) {
        const line = JSON.parse(l)
        lines.push(line)
        if (typeof line.waitingFor === 'string') release() // named: let it go on
      }
      done()
    }
  })
  const app = Fastify({ ...serverOptions(config), logger: { level: 'info', stream } })
  await app.register(App, { config, bus })
  t.teardown(() => app.close())
  await app.ready()
  t.ok(lines.some((l) => l.waitingFor === 'the embedded log: creating topics'), 'the slow step was named while the app waited')
  t.equal((await app.inject('/health')).statusCode, 200, 'and the app started')
})

t.test('a step that outlives PLUGIN_TIMEOUT_MS fails start-up naming the step (not Fastify\'s unnamed plugin)', async (t) => {
  const bus = createEmbeddedBus({ topicPrefix: '', partitions: 1, instanceId: 'stuck' })
  // the connection topics never get created: the step of the connections plugin's onReady hook
  bus.ensureTopics = (names) => names.includes('connections') ? new Promise(() => {}) : Promise.resolve()
  const config = loadConfig({}, { PORT: 0, WS_PORT: 0, LOG_LEVEL: 'silent', PLUGIN_TIMEOUT_MS: 300, SHED_EVENT_LOOP_DELAY_MS: 0, SHED_EVENT_LOOP_UTILIZATION: 0 })
  const app = Fastify({ ...serverOptions(config), logger: false })
  t.teardown(() => app.close().catch(() => {}))
  await app.register(App, { config, bus })
  await t.rejects(async () => { await app.ready() }, { code: 'SB_START_UP_TIMEOUT', step: 'the embedded log: creating the connection topics', message: /^start-up gave up waiting for the embedded log: creating the connection topics after [\d.]+ s \(PLUGIN_TIMEOUT_MS\)$/ })
})
