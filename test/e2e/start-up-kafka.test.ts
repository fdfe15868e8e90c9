// Start-up on a Kafka that is away, then back (issue 24, item 2): start-up names the step it waits
// for, in its log while it waits and in its error when PLUGIN_TIMEOUT_MS runs out, and it finishes
// once the broker is back rather than hanging on it. Kafka is cut through a proxy (test/proxy.ts).
import t from 'tap'
import { Writable } from 'node:stream'
import Fastify, { type FastifyInstance } from 'fastify'
import App, { serverOptions } from '../../app.ts'
import { loadConfig } from '../../config.ts'
import { createKafkaBus } from '../../plugins/bus/kafka/index.ts'
import { KafkaProxy } from '../proxy.ts'
import { cleanupReal, realEnv, realNames, requireServices, services, testLogger, unique } from '../services.ts'

if (await requireServices(t, 'kafka', 'redis', 'mongo')) {
  const names = realNames('start-up')
  const brokers = services.kafka.split(',')
  const proxy = await KafkaProxy.start(brokers)
  t.teardown(async () => { await proxy.close(); await cleanupReal(names) })

  /** Starts an instance whose Kafka connections go through the proxy; `onLine` gets its log lines. */
  async function start (timeoutMs: number, onLine: (entry: Record<string, unknown>) => void = () => {}): Promise<FastifyInstance> {
    const config = loadConfig({}, { ...realEnv(names), PORT: 0, WS_PORT: 0, LOG_LEVEL: 'info', INSTANCE_ID: unique('s'), PLUGIN_TIMEOUT_MS: timeoutMs, SHED_EVENT_LOOP_DELAY_MS: 0, SHED_EVENT_LOOP_UTILIZATION: 0 })
    const bus = createKafkaBus({ brokers, clientId: 'switchboard-test', topicPrefix: names.topicPrefix, partitions: 3, instanceId: config.INSTANCE_ID, logger: testLogger(), socketFactory: proxy.socketFactory })
    const stream = new Writable({ write (chunk, _encoding, done) { for (const l of chunk.toString().split('\n').filter(Boolean)) onLine(JSON.parse(l)); done() } })
    const app = Fastify({ ...serverOptions(config), logger: { level: 'info', stream } })
    // an injected bus is left open by the app: closed after it
    t.teardown(async () => { await app.close().catch(() => {}); await bus.close() })
    await app.register(App, { config, bus })
    await app.ready()
    return app
  }

  t.test('Kafka refusing connections: start-up fails naming the step; once it is back, it starts', async (t) => {
    await proxy.cut()
    const err = await start(60_000).then(() => null, (e: Error) => e)
    t.match(err?.message, /^Kafka at .+ unavailable: creating topics failed/, 'the step is named')
    await proxy.restore()
    const app = await start(60_000)
    t.equal((await app.inject('/ready')).statusCode, 200, 'started')
  })

  t.test('Kafka not answering: start-up gives up within PLUGIN_TIMEOUT_MS naming the step, not an unnamed plugin', async (t) => {
    await proxy.stall()
    t.teardown(() => proxy.restore())
    const err = await start(4000).then(() => null, (e: Error) => e)
    t.match(err, { code: 'SB_START_UP_TIMEOUT', message: /^start-up gave up waiting for Kafka at .+: creating the connection topics after \d+(\.\d)? s \(PLUGIN_TIMEOUT_MS\)$/ }, 'the step is named')
  })

  t.test('Kafka back while start-up waits for it: start-up finishes', async (t) => {
    await proxy.stall()
    let restored: Promise<void> | undefined
    const app = await start(60_000, (line) => {
      // the moment start-up says it waits for Kafka, Kafka comes back
      if (typeof line.waitingFor === 'string' && line.waitingFor.startsWith('Kafka')) restored ??= proxy.restore()
    })
    t.ok(restored, 'start-up waited for Kafka, naming it')
    t.equal((await app.inject('/ready')).statusCode, 200, 'and started once it was back')
  })
}
