// One client per backing service: every plugin that needs Redis or MongoDB shares the app's one
// connection to it (plugins/external/redis.ts, plugins/external/mongo.ts), and the database is the one MONGO_URL names.
import t from 'tap'
import { Redis } from 'ioredis'
import { MongoClient } from 'mongodb'
import { buildReal, cleanupReal, realNames, requireServices, services } from '../services.ts'
import { handled } from '../helper.ts'

if (await requireServices(t, 'kafka', 'redis', 'mongo')) {
  const names = realNames('clients')
  t.teardown(() => cleanupReal(names))
  // every MongoClient that connects in this process (the test's own admin client included)
  const connected = new Set<MongoClient>()
  const connect = MongoClient.prototype.connect
  MongoClient.prototype.connect = function (this: MongoClient) { connected.add(this); return connect.call(this) }
  t.teardown(() => { MongoClient.prototype.connect = connect })

  // the database only in the URL: it is the one used
  const url = new URL(services.mongo)
  url.pathname = `/${names.database}`
  const app = await buildReal(t, { names, MONGO_URL: url.toString(), MONGO_DB: '' })

  t.test('the database MONGO_URL names is the one the app writes to', async (t) => {
    t.equal(app.config.MONGO_DB, names.database)
    t.equal(app.mongo?.db.databaseName, names.database)
  })

  t.test('posting, reading, channels, nonces and presence all go through one Redis and one MongoDB client', async (t) => {
    const created = await app.inject({ method: 'POST', url: '/api/channels', headers: { 'x-user-id': 'ada' }, payload: { id: 'shared', private: false } })
    t.equal(created.statusCode, 201)
    const post = await app.inject({ method: 'POST', url: '/api/messages', payload: { channelId: 'shared', content: 'hi', senderId: 'ada', senderName: 'Ada', nonce: 'n1' } })
    t.equal(post.statusCode, 201)
    await handled(app, 'messages-store', post.json().position)
    await handled(app, 'messages-cache', post.json().position)
    t.equal((await app.inject('/api/channels/shared/messages')).statusCode, 200)
    t.equal((await app.inject('/api/channels/shared/presence')).statusCode, 200)
    t.equal((await app.inject('/ready')).statusCode, 200)

    t.equal(connected.size, 1, 'one MongoClient connected')
    t.ok(connected.has(app.mongo!.client), 'the app\'s shared one')
    const admin = new MongoClient(services.mongo)
    t.teardown(() => admin.close())
    t.ok(await admin.db(names.database).collection('messages').findOne({ _id: post.json().id }), 'the message is stored in the URL\'s database')
    t.ok(await admin.db(names.database).collection('channels').findOne({ _id: 'shared' as any }), 'and the channel')

    const redis = new Redis(services.redis)
    t.teardown(() => redis.quit())
    const clients = String(await redis.client('LIST')).split('\n').filter((line) => line.includes(` name=switchboard-${app.instanceId} `))
    t.equal(clients.length, 1, 'one Redis connection named for this instance')
  })

  t.test('one readiness check per service, and one for the delivery path (broadcast consumers behind the log)', async (t) => {
    const ready = (await app.inject('/ready')).json()
    t.same(Object.keys(ready.checks).sort(), ['broadcast', 'kafka', 'mongo', 'redis'])
  })
}
