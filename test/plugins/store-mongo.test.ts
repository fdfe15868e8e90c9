import t from 'tap'
import { MongoClient, type CommandStartedEvent } from 'mongodb'
import Fastify from 'fastify'
import { ConfigSchema, loadConfig } from '../../config.ts'
import readiness from '../../plugins/external/readiness.ts'
import mongoPlugin from '../../plugins/external/mongo.ts'
import storePlugin from '../../plugins/store/index.ts'
import type { MessageChange } from '../../plugins/store/index.ts'
import { createMongoStore } from '../../plugins/store/mongo.ts'
import { storeContract } from '../contracts/store.ts'
import { message } from '../contracts/cache.ts'
import { cleanupReal, mongoDatabase, realNames, requireService, services, testLogger } from '../services.ts'

if (await requireService(t, 'mongo')) {
  const { database } = realNames('store')
  t.teardown(() => cleanupReal({ database }))
  const db = mongoDatabase(t, database)
  const make = () => createMongoStore(db, { logger: testLogger() })
  let n = 0
  storeContract(t, async () => make(), () => `s${++n}`)

  t.test('documents are keyed by the message id and history has its index', async (t) => {
    const store = make()
    t.teardown(() => store.close())
    const m = message(`d${++n}`, 'hello', { editedAt: undefined })
    await store.apply([{ type: 'create', message: m, position: { epoch: 'e', offset: '0' } }])
    const client = new MongoClient(services.mongo)
    t.teardown(() => client.close())
    const doc = await client.db(database).collection('messages').findOne({ _id: m.id as any })
    t.equal(doc?.channelId, m.channelId)
    t.notOk(doc && 'id' in doc, 'no id field besides _id')
    t.notOk(doc && 'editedAt' in doc, 'undefined fields are not stored')
    const indexes = await client.db(database).collection('messages').indexes()
    t.ok(indexes.some((i) => i.name === 'channel_history'), 'channel history index')
  })

  t.test('an unreachable MongoDB fails with an error that names it, and ping fails', async (t) => {
    const store = createMongoStore(mongoDatabase(t, database, 'mongodb://127.0.0.1:1'), { logger: testLogger() })
    t.teardown(() => store.close())
    await t.rejects(store.get('ffffffffffffffffffffffff'), { name: 'TransientError', message: /MongoDB .* unavailable/ })
    await t.rejects(store.ping(), { name: 'TransientError' })
  })
  t.test('a batch of more than MONGO_BULK_MAX updates is sent as sequential bulk commands of at most MONGO_BULK_MAX, in order; inserts in one command', async (t) => {
    const max = ConfigSchema.properties.MONGO_BULK_MAX.default
    const client = new MongoClient(services.mongo, { monitorCommands: true, ignoreUndefined: true })
    t.teardown(() => client.close())
    // what the store sent: its bulk commands, and when each one ended (a chunk only starts after the previous one)
    const events: Array<{ started: CommandStartedEvent } | { ended: number }> = []
    client.on('commandStarted', (e) => { if (e.databaseName === database && (e.commandName === 'insert' || e.commandName === 'update')) events.push({ started: e }) })
    const ended = (e: { requestId: number }) => { events.push({ ended: e.requestId }) }
    client.on('commandSucceeded', ended)
    client.on('commandFailed', ended)
    const store = createMongoStore(client.db(database), { logger: testLogger() })
    t.teardown(() => store.close())
    const commands = (name: string) => events.flatMap((e) => 'started' in e && e.started.commandName === name ? [e.started] : [])
    const sequential = () => events.every((e, i) => !('started' in e) || i === 0 || !('started' in events[i - 1]))

    const ch = `bulk${++n}`
    const count = 2 * max + 5
    const msgs = Array.from({ length: count }, (_v, i) => message(ch, `m${i}`))
    const creates = msgs.map((m, i): MessageChange => ({ type: 'create', message: { ...m, position: { epoch: 'b', offset: String(i) } }, position: { epoch: 'b', offset: String(i) } }))
    await store.apply(creates)
    let inserts = commands('insert')
    t.same(inserts.map((c) => c.command.documents.length), [count], 'the creates: one insert command (inserts never match a document: not chunked)')
    t.same(inserts.flatMap((c) => c.command.documents.map((d: { _id: string }) => d._id)), msgs.map((m) => m.id), 'in stream order')

    events.length = 0
    // a replay with some of them new: duplicates are "already stored"
    const more = Array.from({ length: max }, (_v, i) => message(ch, `new${i}`))
    const replay = [...creates, ...more.map((m, i): MessageChange => ({ type: 'create', message: m, position: { epoch: 'b', offset: String(count + i) } }))]
    await store.apply(replay)
    inserts = commands('insert')
    t.same(inserts.map((c) => c.command.documents.length), [count + max], 'the replay: one insert command')
    t.equal((await store.page(ch, { limit: 1000 })).length, count + max, 'each message stored once, the new ones too')

    events.length = 0
    const edits = msgs.map((m, i): MessageChange => ({ type: 'update', id: m.id, channelId: ch, changes: { content: `${m.content}!` }, position: { epoch: 'b', offset: String(count + max + i) } }))
    await store.apply(edits)
    const updates = commands('update')
    t.same(updates.map((c) => c.command.updates.length), [max, max, 5], 'the edits: three update commands')
    t.ok(updates.every((c) => c.command.ordered !== false), 'each ordered')
    t.same(updates.flatMap((c) => c.command.updates.map((u: { q: { _id: string } }) => u.q._id)), msgs.map((m) => m.id), 'in stream order')
    t.ok(sequential(), 'each command sent once the previous one had ended')
    t.equal((await store.get(msgs[count - 1].id))?.content, `m${count - 1}!`, 'the last chunk applied')
  })
  t.test('the store plugin writes its updates in chunks of the configured MONGO_BULK_MAX', async (t) => {
    const client = new MongoClient(services.mongo, { monitorCommands: true, ignoreUndefined: true })
    t.teardown(() => client.close())
    const sizes: number[] = []
    client.on('commandStarted', (e) => { if (e.databaseName === database && e.commandName === 'update') sizes.push(e.command.updates.length) })
    const app = Fastify()
    t.teardown(() => app.close())
    app.decorate('config', loadConfig({}, { MONGO_URL: services.mongo, MONGO_DB: database, MONGO_BULK_MAX: 4 }))
    await app.register(readiness).register(mongoPlugin, { client }).register(storePlugin).ready()
    const ch = `plugin${++n}`
    const msgs = Array.from({ length: 9 }, (_v, i) => message(ch, `m${i}`))
    await app.store.apply(msgs.map((m, i): MessageChange => ({ type: 'create', message: m, position: { epoch: 'a', offset: String(i) } })))
    await app.store.apply(msgs.map((m, i): MessageChange => ({ type: 'update', id: m.id, channelId: ch, changes: { content: `${m.content}!` }, position: { epoch: 'a', offset: String(9 + i) } })))
    t.same(sizes, [4, 4, 1])
    t.equal((await app.store.page(ch, { limit: 10 })).length, 9)
  })
}
