// Kafka with SASL/PLAIN, as managed clusters require it: the broker of scripts/services.sh has a
// second listener that requires it (user switchboard, password switchboard-secret). The settings
// KAFKA_SASL_* (and KAFKA_SSL) reach kafkajs through the bus plugin.
import t from 'tap'
import { createKafkaBus } from '../../plugins/bus/kafka/index.ts'
import { loadConfig } from '../../config.ts'
import { address, buildReal, cleanupReal, realNames, requireService, testLogger, unique } from '../services.ts'
import net from 'node:net'
import { once } from 'node:events'

const saslBrokers = process.env.KAFKA_SASL_BROKERS || `${address('kafka').host}:9096`
const credentials = { KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_USERNAME: 'switchboard', KAFKA_SASL_PASSWORD: 'switchboard-secret' } as const

async function saslListener (): Promise<boolean> {
  const [host, port] = saslBrokers.split(',')[0].split(':')
  const socket = net.connect({ host, port: Number(port) })
  try { await once(socket, 'connect'); return true } catch { return false } finally { socket.destroy() }
}

t.test('the SASL settings are checked together at start', async (t) => {
  t.throws(() => loadConfig({ KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_USERNAME: 'u' }), /KAFKA_SASL_MECHANISM.*set KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD too/)
  t.throws(() => loadConfig({ KAFKA_SASL_PASSWORD: 'p' }), /KAFKA_SASL_MECHANISM.*is not set/)
  t.throws(() => loadConfig({ KAFKA_SASL_MECHANISM: 'kerberos' }), /KAFKA_SASL_MECHANISM/)
  t.throws(() => loadConfig({ KAFKA_SSL_CA_FILE: '/nonexistent.pem', KAFKA_SSL: 'true' }), /KAFKA_SSL_CA_FILE.*cannot be read/)
  t.throws(() => loadConfig({ KAFKA_SSL_CA_FILE: '/etc/hostname' }), /KAFKA_SSL_CA_FILE.*KAFKA_SSL is not true/)
  t.equal(loadConfig({ KAFKA_SSL: 'true' }).KAFKA_SSL, true)
})

t.test('an instance on a SASL/PLAIN listener posts and is ready; a wrong password is refused, saying so', async (t) => {
  if (!await requireService(t, 'kafka')) return
  if (!await saslListener()) {
    const reason = `no SASL listener at ${saslBrokers} (scripts/services.sh starts Kafka with one; set KAFKA_SASL_BROKERS)`
    if (process.env.REQUIRE_SERVICES === '1') return t.fail(reason)
    console.log(`# skipping: ${reason}`)
    return t.plan(0, reason)
  }
  const names = realNames('sasl')
  t.teardown(() => cleanupReal({ topicPrefix: names.topicPrefix }))
  const app = await buildReal(t, { names, REDIS_URL: '', MONGO_URL: '', KAFKA_BROKERS: saslBrokers, ...credentials })
  const posted = await app.inject({ method: 'POST', url: '/api/messages', payload: { channelId: 'sasl', content: 'over SASL', senderId: 'ada' } })
  t.equal(posted.statusCode, 201, 'produced to Kafka through the SASL listener')
  t.equal((await app.inject('/ready')).statusCode, 200)

  const wrong = createKafkaBus({ brokers: saslBrokers.split(','), clientId: 'switchboard-test', topicPrefix: `${unique('sasl')}.`, partitions: 3, instanceId: 'w', logger: testLogger(), sasl: { mechanism: 'plain', username: 'switchboard', password: 'wrong' } })
  t.teardown(() => wrong.close())
  await t.rejects(wrong.ensureTopics(['x']), /SASL Authentication failed|Authentication failed/i, 'the error names the authentication')
})
