import t from 'tap'
import { spawnSync } from 'node:child_process'
import { ConfigError, loadConfig } from '../config.ts'

t.test('defaults: embedded mode on 5001 / 5002', async (t) => {
  const config = loadConfig({})
  t.match(config, { PORT: 5001, WS_PORT: 5002, KAFKA_BROKERS: '', REDIS_URL: '', MONGO_URL: '', CACHE_RECENT: 100, CACHE_TTL_SECONDS: 3600, MESSAGE_MAX_LENGTH: 4000 })
})

t.test('values are converted from strings', async (t) => {
  t.match(loadConfig({ PORT: '8080', KAFKA_PARTITIONS: '6', WS_IDLE_TIMEOUT: '0' }), { PORT: 8080, KAFKA_PARTITIONS: 6, WS_IDLE_TIMEOUT: 0 })
})

t.test('a bad value names the variable', async (t) => {
  for (const [name, value] of [['PORT', 'abc'], ['PORT', '70000'], ['LOG_LEVEL', 'loud'], ['KAFKA_PARTITIONS', '0'], ['WS_IDLE_TIMEOUT', '3']]) {
    let error: unknown
    try { loadConfig({ [name]: value }) } catch (err) { error = err }
    t.ok(error instanceof ConfigError, `${name}=${value} is refused`)
    t.equal((error as ConfigError).variable, name)
    t.match((error as Error).message, `invalid configuration: ${name}`)
    t.match((error as Error).message, value, 'and quotes the value')
  }
})

t.test('the server refuses to start on a bad value and says which', async (t) => {
  const run = spawnSync(process.execPath, ['--import=tsx', 'server.ts'], { env: { ...process.env, PORT: 'not-a-port' }, encoding: 'utf8', timeout: 60_000 })
  t.equal(run.status, 1)
  t.match(run.stderr, /invalid configuration: PORT/)
})
