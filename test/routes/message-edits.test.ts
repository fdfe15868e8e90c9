import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { build, handled } from '../helper.ts'
import { as, lastRecord, handledBy, lastOn, MESSAGE_HANDLERS, post, recordProduced } from '../chat.ts'
import { createEmbeddedBus } from '../../plugins/bus/embedded.ts'
import { createEmbeddedStore } from '../../plugins/store/embedded.ts'
import type { MessageStore } from '../../plugins/store/store.ts'
import { createEmbeddedRecentMessages } from '../../plugins/recent-messages/embedded.ts'

t.test('the author edits a message: 200 with the new text and editedAt, stored and cached', async (t) => {
  const app = await build(t)
  const produced = recordProduced(app)
  const message = await post(app, 'general', 'helo')
  t.equal((await app.inject({ url: '/api/channels/general/messages' })).headers['x-cache'], 'miss', 'warms the channel')
  const res = await app.inject({ method: 'PATCH', url: `/api/messages/${message.id}`, headers: as('alice'), payload: { content: 'hello' } })
  t.equal(res.statusCode, 200)
  const edited = res.json()
  t.match(edited, { id: message.id, channelId: 'general', senderId: 'alice', content: 'hello', createdAt: message.createdAt, position: message.position })
  t.ok(Date.parse(edited.editedAt) >= Date.parse(message.createdAt), 'editedAt is a time after creation')
  const event = JSON.parse(lastRecord(produced, 'messages').value)
  t.match(event, { v: 1, type: 'message.updated', channelId: 'general', data: { id: message.id, channelId: 'general', content: 'hello', editedAt: edited.editedAt } })
  t.notOk('senderId' in event.data, 'the event carries only what changed')
  t.equal(lastRecord(produced, 'messages').key, 'general', 'keyed by channel')
  await handledBy(app, MESSAGE_HANDLERS, lastOn(produced, 'messages'))
  t.same(await app.store.get(message.id), edited, 'the store has the edit')
  const history = await app.inject({ url: '/api/channels/general/messages' })
  t.equal(history.headers['x-cache'], 'hit')
  t.same(history.json().messages, [edited], 'history from the cache shows it')
})

t.test('the author deletes a message: 204, then it is gone and a second delete or edit is a 404', async (t) => {
  const app = await build(t)
  const produced = recordProduced(app)
  const message = await post(app, 'general', 'oops')
  const res = await app.inject({ method: 'DELETE', url: `/api/messages/${message.id}`, headers: as('alice') })
  t.equal(res.statusCode, 204)
  t.equal(res.body, '')
  t.match(JSON.parse(lastRecord(produced, 'messages').value), { type: 'message.deleted', channelId: 'general', data: { id: message.id, channelId: 'general' } })
  await handledBy(app, MESSAGE_HANDLERS, lastOn(produced, 'messages'))
  t.equal(await app.store.get(message.id), null, 'removed from the store')
  t.same((await app.inject({ url: '/api/channels/general/messages' })).json().messages, [], 'and from history')
  const count = produced.length
  const again = await app.inject({ method: 'DELETE', url: `/api/messages/${message.id}`, headers: as('alice') })
  t.equal(again.statusCode, 404)
  t.match(again.json(), { statusCode: 404, error: 'Not Found', message: new RegExp(message.id) })
  const edit = await app.inject({ method: 'PATCH', url: `/api/messages/${message.id}`, headers: as('alice'), payload: { content: 'back?' } })
  t.equal(edit.statusCode, 404, 'a deleted message cannot be edited')
  t.equal(produced.length, count, 'nothing more was produced')
})

t.test('only the author: 401 anonymous, 403 someone else, 404 unknown, 400 a malformed id; nothing produced', async (t) => {
  const app = await build(t)
  const message = await post(app, 'general', 'mine')
  const produced = recordProduced(app)
  const unknown = 'ffffffffffffffffffffffff'
  const cases: Array<[string, 'PATCH' | 'DELETE', string, Record<string, string>, number, RegExp]> = [
    ['anonymous edit', 'PATCH', message.id, {}, 401, /x-user-id/],
    ['anonymous delete', 'DELETE', message.id, {}, 401, /x-user-id/],
    ['edit by another user', 'PATCH', message.id, as('mallory'), 403, /only the author/],
    ['delete by another user', 'DELETE', message.id, as('mallory'), 403, /only the author/],
    ['edit of an unknown id', 'PATCH', unknown, as('alice'), 404, new RegExp(unknown)],
    ['delete of an unknown id', 'DELETE', unknown, as('alice'), 404, new RegExp(unknown)],
    ['malformed id', 'PATCH', 'not-an-id', as('alice'), 400, /params\/id/],
    ['operator as id', 'DELETE', '%24gt', as('alice'), 400, /params\/id/]
  ]
  for (const [name, method, id, headers, status, why] of cases) {
    const res = await app.inject({ method, url: `/api/messages/${id}`, headers, ...(method === 'PATCH' ? { payload: { content: 'changed' } } : {}) })
    t.equal(res.statusCode, status, `${name}: ${status}`)
    t.match(res.json(), { statusCode: status, message: why }, `${name}: says why`)
  }
  t.equal(produced.length, 0, 'nothing reached the log')
  t.same(await app.store.get(message.id), message, 'the message is unchanged')
})

t.test('edit bodies follow the rules of a post: 400s naming body/content, nothing produced', async (t) => {
  const app = await build(t, { MESSAGE_MAX_LENGTH: 50 })
  const message = await post(app, 'general', 'original')
  const produced = recordProduced(app)
  const cases: Array<[string, unknown, RegExp]> = [
    ['missing content', {}, /content/],
    ['empty content', { content: '' }, /content/],
    ['blank content', { content: ' \n\t ' }, /content.*blank/],
    ['too long content', { content: 'x'.repeat(51) }, /content.*50.*51/],
    ['number content', { content: 7 }, /content/],
    ['operator content', { content: { $set: 'x' } }, /content/],
    ['another field', { content: 'ok', senderId: 'mallory' }, /senderId|additional|Unexpected/i],
    ['array body', [{ content: 'x' }], /body/]
  ]
  for (const [name, payload, why] of cases) {
    const res = await app.inject({ method: 'PATCH', url: `/api/messages/${message.id}`, headers: as('alice'), payload: payload as object })
    t.equal(res.statusCode, 400, `${name}: 400`)
    t.match(res.json(), { statusCode: 400, error: 'Bad Request', message: why }, `${name}: names the field`)
  }
  t.equal(produced.length, 0, 'nothing reached the log')
  t.equal((await app.store.get(message.id))?.content, 'original')
})

t.test('an unreachable log is a 503 and the message is unchanged', async (t) => {
  const app = await build(t)
  const message = await post(app, 'general', 'stays')
  app.bus.produce = async () => { throw new Error('broker down') }
  const res = await app.inject({ method: 'PATCH', url: `/api/messages/${message.id}`, headers: as('alice'), payload: { content: 'changed' } })
  t.equal(res.statusCode, 503)
  t.match(res.json(), { statusCode: 503, message: /event log unavailable/ })
  t.equal((await app.store.get(message.id))?.content, 'stays')
})

t.test('probing: a non-member learns nothing of a private channel\'s messages (404 exactly as an unknown id)', async (t) => {
  const app = await build(t)
  t.equal((await app.inject({ method: 'POST', url: '/api/channels', headers: as('alice'), payload: { id: 'den', private: true } })).statusCode, 201)
  const secret = await post(app, 'den', 'hidden', 'alice')
  const unknown = 'ffffffffffffffffffffffff'
  const produced = recordProduced(app)
  const probes: Array<['PATCH' | 'DELETE' | 'PUT', (id: string) => string]> = [
    ['PUT', (id) => `/api/messages/${id}/reactions/%F0%9F%91%8D`],
    ['DELETE', (id) => `/api/messages/${id}/reactions/%F0%9F%91%8D`],
    ['PATCH', (id) => `/api/messages/${id}`],
    ['DELETE', (id) => `/api/messages/${id}`]
  ]
  const ask = (method: 'PATCH' | 'DELETE' | 'PUT', url: string, user: string) =>
    app.inject({ method, url, headers: as(user), ...(method === 'PATCH' ? { payload: { content: 'edited' } } : {}) })
  for (const [method, url] of probes) {
    const hidden = await ask(method, url(secret.id), 'eve')
    const missing = await ask(method, url(unknown), 'eve')
    t.equal(hidden.statusCode, 404, `${method} ${url(':id')}: 404 for a message in a channel eve may not read`)
    t.notMatch(hidden.body, /den/, 'the channel is not named')
    t.same(hidden.json(), { ...missing.json(), message: missing.json().message.replace(unknown, secret.id) }, 'the same answer as an id that does not exist')
  }
  t.equal(produced.length, 0, 'nothing reached the log')
  for (const [method, url] of probes) {
    t.equal((await ask(method, url(secret.id), 'alice')).statusCode, method === 'PATCH' ? 200 : 204, `${method} ${url(':id')}: a member still may`)
  }
})

t.test('read-your-writes: right after the 201, before the store has the message, on either instance: the author edits and deletes, anyone reacts, with the usual 403 and 404', async (t) => {
  // Two instances on one log, one store whose writes are held until the end, and the recent
  // messages they share (Redis in production).
  let release!: () => void
  const held = new Promise<void>((resolve) => { release = resolve })
  const inner = createEmbeddedStore()
  const store: MessageStore = { ...inner, async apply (changes) { await held; return inner.apply(changes) } }
  const bus = createEmbeddedBus({ topicPrefix: '', partitions: 1, instanceId: 'ryw' })
  const shared = { store, bus, recentMessages: createEmbeddedRecentMessages() }
  const [a, b] = [await build(t, {}, shared), await build(t, {}, shared)]
  t.teardown(() => bus.close())
  const posted = async (app: FastifyInstance, channelId: string, content: string) => {
    const res = await app.inject({ method: 'POST', url: '/api/messages', headers: as('alice'), payload: { channelId, content } })
    t.equal(res.statusCode, 201, `posted ${content}`)
    return res.json()
  }
  const patch = (app: FastifyInstance, id: string, user: string, content: string) =>
    app.inject({ method: 'PATCH', url: `/api/messages/${id}`, headers: as(user), payload: { content } })
  const react = (app: FastifyInstance, id: string, user: string) =>
    app.inject({ method: 'PUT', url: `/api/messages/${id}/reactions/%F0%9F%91%8D`, headers: as(user) })
  const remove = (app: FastifyInstance, id: string, user: string) =>
    app.inject({ method: 'DELETE', url: `/api/messages/${id}`, headers: as(user) })

  const kept = await posted(a, 'general', 'helo')
  t.equal(await store.get(kept.id), null, 'not stored yet')
  t.equal((await patch(b, kept.id, 'bob', 'mine now')).statusCode, 403, 'someone else may not edit it: 403')
  t.equal((await remove(b, kept.id, 'bob')).statusCode, 403, 'nor delete it')
  const edited = await patch(b, kept.id, 'alice', 'hello')
  t.equal(edited.statusCode, 200, 'the author edits it on the other instance')
  t.same(edited.json(), { ...kept, content: 'hello', editedAt: edited.json().editedAt }, 'the message as posted, with the new text and editedAt')
  t.equal((await react(b, kept.id, 'bob')).statusCode, 204, 'anyone reacts to it')

  const gone = await posted(a, 'general', 'oops')
  const produced = recordProduced(b)
  t.equal((await remove(b, gone.id, 'alice')).statusCode, 204, 'the author deletes it on the other instance')
  const deletion = lastOn(produced, 'messages')
  for (const [name, app] of [['a', a], ['b', b]] as const) {
    t.equal((await patch(app, gone.id, 'alice', 'back')).statusCode, 404, `${name}: an edit after the delete is a 404`)
    t.equal((await remove(app, gone.id, 'alice')).statusCode, 404, `${name}: so is a second delete`)
    t.equal((await react(app, gone.id, 'bob')).statusCode, 404, `${name}: and a reaction`)
  }

  // a private channel's message, not stored yet: a non-member's probe is the 404 of an unknown id
  t.equal((await a.inject({ method: 'POST', url: '/api/channels', headers: as('alice'), payload: { id: 'den', private: true } })).statusCode, 201)
  const secret = await posted(a, 'den', 'hidden')
  const unknown = 'ffffffffffffffffffffffff'
  const probe = await patch(a, secret.id, 'eve', 'edited')
  t.equal(probe.statusCode, 404)
  t.same(probe.json().message, `no message ${secret.id} (unknown or deleted)`, 'as for an unknown id')
  t.equal((await patch(a, unknown, 'eve', 'edited')).json().message, `no message ${unknown} (unknown or deleted)`)
  t.equal(await store.get(kept.id), null, 'all of that before the store had any of the messages')

  release()
  await Promise.race([a, b].map((app) => handled(app, 'messages-store', deletion)))
  const { reactions: _, ...stored } = (await store.get(kept.id))!
  t.same(stored, edited.json(), 'once stored, the message is what the edit answered')
  t.equal(await store.get(gone.id), null, 'the deleted one never shows')
})
