import t from 'tap'
import { spawnSync } from 'node:child_process'
import { ConfigError, loadConfig, parseClusterNodes } from '../config.ts'

t.test('defaults: embedded mode on 5001 / 5002', async (t) => {
  const config = loadConfig({})
  t.match(config, { PORT: 5001, WS_PORT: 5002, KAFKA_BROKERS: '', REDIS_URL: '', MONGO_URL: '', CACHE_RECENT: 100, CACHE_TTL_SECONDS: 3600, MESSAGE_MAX_LENGTH: 4000 })
  // Kafka's own producer default since 4.0 (linger.ms); at 1,000 posts/s it cuts server CPU per
  // message by about a tenth against 2 ms (BENCHMARKS.md). An idle instance never waits.
  t.equal(config.KAFKA_LINGER_MS, 5, 'a busy producer lingers 5 ms for company')
  // the shared handlers of a busy log take 50 ms batches: about a tenth less server CPU per message
  // at 1,000/s (docs/benchmarks/history.md, Session 5); the delivery path never lingers
  t.equal(config.KAFKA_CONSUME_LINGER_MS, 50, 'busy shared consumers linger 50 ms')
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

t.test('MongoDB database: the one MONGO_URL names wins; MONGO_DB only fills in', async (t) => {
  t.equal(loadConfig({}).MONGO_DB, 'switchboard', 'embedded: the default name')
  t.equal(loadConfig({ MONGO_URL: 'mongodb://127.0.0.1:27017' }).MONGO_DB, 'switchboard', 'a URL without a database: the default')
  t.equal(loadConfig({ MONGO_URL: 'mongodb://127.0.0.1:27017/' }).MONGO_DB, 'switchboard', 'an empty path names none')
  t.equal(loadConfig({ MONGO_URL: 'mongodb://127.0.0.1:27017', MONGO_DB: 'other' }).MONGO_DB, 'other', 'MONGO_DB when the URL names none')
  t.equal(loadConfig({ MONGO_URL: 'mongodb://db.example/chat' }).MONGO_DB, 'chat', 'the URL\'s database')
  t.equal(loadConfig({ MONGO_URL: 'mongodb+srv://u:p%2Fw@cluster0.example.net/chat?retryWrites=true&w=majority' }).MONGO_DB, 'chat', 'an Atlas URI with credentials and options')
  t.equal(loadConfig({ MONGO_URL: 'mongodb://h1:27017,h2:27018/chat?replicaSet=rs0' }).MONGO_DB, 'chat', 'several hosts')
  t.equal(loadConfig({ MONGO_URL: 'mongodb://h1/?replicaSet=rs0', MONGO_DB: 'other' }).MONGO_DB, 'other', 'options but no database')
  t.equal(loadConfig({ MONGO_URL: 'mongodb://db.example/chat', MONGO_DB: 'chat' }).MONGO_DB, 'chat', 'both naming the same one is fine')
})

t.test('MongoDB database: MONGO_URL and MONGO_DB naming different ones is an error naming both', async (t) => {
  const err = t.throws(() => loadConfig({ MONGO_URL: 'mongodb://user:secret@db.example/chat', MONGO_DB: 'switchboard' })) as ConfigError
  t.ok(err instanceof ConfigError)
  t.equal(err.variable, 'MONGO_DB')
  t.match(err.message, /MONGO_DB is "switchboard" but MONGO_URL names database "chat"/)
  t.notMatch(err.message, /secret/, 'the URL\'s password is not echoed')
})

t.test('MONGO_URL must be a MongoDB connection string', async (t) => {
  for (const url of ['http://db.example/chat', 'db.example:27017', 'mongodb:///chat']) {
    const err = t.throws(() => loadConfig({ MONGO_URL: url }), `${url} is refused`) as ConfigError
    t.equal(err.variable, 'MONGO_URL')
  }
  t.throws(() => loadConfig({ MONGO_DB: 'a.b' }), /MONGO_DB "a.b" is not a MongoDB database name/)
})

t.test('a Redis Cluster is named by REDIS_CLUSTER_NODES, never beside REDIS_URL', async (t) => {
  const nodes = '127.0.0.1:7001, 127.0.0.1:7002,redis-3.internal:7003'
  t.equal(loadConfig({ REDIS_CLUSTER_NODES: nodes }).REDIS_CLUSTER_NODES, nodes)
  t.same(parseClusterNodes(nodes), [{ host: '127.0.0.1', port: 7001 }, { host: '127.0.0.1', port: 7002 }, { host: 'redis-3.internal', port: 7003 }])
  t.throws(() => loadConfig({ REDIS_URL: 'redis://127.0.0.1:6379', REDIS_CLUSTER_NODES: nodes }), { name: 'ConfigError', message: /REDIS_CLUSTER_NODES and REDIS_URL are both set: set REDIS_URL for one Redis or REDIS_CLUSTER_NODES for a Redis Cluster, not both/ })
  for (const bad of ['127.0.0.1', 'redis://127.0.0.1:7001', '127.0.0.1:7001;127.0.0.1:7002']) {
    let error: unknown
    try { loadConfig({ REDIS_CLUSTER_NODES: bad }) } catch (err) { error = err }
    t.equal((error as ConfigError).variable, 'REDIS_CLUSTER_NODES', `${bad} is refused`)
  }
})
