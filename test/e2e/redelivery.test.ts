// Kafka delivers again what a consumer group had not committed (a crash, a rebalance, a restart).
// Here the whole `messages` log is handed to a fresh instance again, from offset 0: creates, edits
// and deletes replayed after the state they produced must change nothing.
import t from 'tap'
import { Kafka, logLevel } from 'kafkajs'
import { handled } from '../helper.ts'
import { buildReal, cleanupReal, handledLog, realNames, requireServices, services, unique } from '../services.ts'

if (await requireServices(t, 'kafka', 'redis', 'mongo')) {
  const names = realNames('redeliver')
  t.teardown(() => cleanupReal(names))

  t.test('the log replayed from the start regresses no stored or cached state; a deleted message stays deleted', async (t) => {
    const first = await buildReal(t, { names })
    const log = handledLog(first)
    const channel = unique('replay')
    const post = async (content: string) => (await first.inject({ method: 'POST', url: '/api/messages', payload: { channelId: channel, content, senderId: 'u1' } })).json()
    const kept = await post('kept v1')
    const gone = await post('gone v1')
    // edits and deletes find their message in the store: wait until it is there
    await Promise.all([handled(first, 'messages-store', kept.position), handled(first, 'messages-store', gone.position)])
    const edit = async (id: string, content: string) => {
      const res = await first.inject({ method: 'PATCH', url: `/api/messages/${id}`, headers: { 'x-user-id': 'u1' }, payload: { content } })
      t.equal(res.statusCode, 200, `edited to ${content}`)
    }
    await edit(kept.id, 'kept v2')
    await edit(gone.id, 'gone v2')
    t.equal((await first.inject({ method: 'DELETE', url: `/api/messages/${gone.id}`, headers: { 'x-user-id': 'u1' } })).statusCode, 204)
    const last = await post('last')
    await Promise.all([log.handled('messages-store', last.position), log.handled('messages-cache', last.position)])
    const history = async (app = first) => (await app.inject({ url: `/api/channels/${channel}/messages` })).json().messages.map((m: { content: string }) => m.content)
    t.same(await history(), ['last', 'kept v2'], 'before the replay')
    await first.close()

    // Every committed offset of the shared groups back to the start, as after lost commits.
    const admin = new Kafka({ clientId: 'switchboard-test', brokers: services.kafka.split(','), logLevel: logLevel.NOTHING }).admin()
    await admin.connect()
    t.teardown(() => admin.disconnect())
    for (const group of ['shared.messages', 'shared.messages.cache']) {
      await admin.resetOffsets({ groupId: `${names.topicPrefix}${group}`, topic: `${names.topicPrefix}messages`, earliest: true })
    }

    const second = await buildReal(t, { names })
    // (helper.ts `handled` also finds records handled before it was called: build() tracks from the start)
    await Promise.all([handled(second, 'messages-store', last.position), handled(second, 'messages-cache', last.position)])
    t.equal((await handled(second, 'messages-store', kept.position)).outcome, 'ok', 'the first create was handled again, by the new instance')
    t.equal(await second.store.get(gone.id), null, 'a replayed create after its delete does not bring the message back')
    t.equal((await second.store.get(kept.id))?.content, 'kept v2', 'a replayed create and older edit do not revert the latest edit')
    t.same(await history(second), ['last', 'kept v2'], 'history (cache or store) is what it was')
    const cached = await second.cache.page(channel, { limit: 10 })
    if (cached) t.same(cached.map((m) => m.content), ['last', 'kept v2'], 'and so is the cache')
  })
}
