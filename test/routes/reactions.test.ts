import t from 'tap'
import { build, handled } from '../helper.ts'
import { as, lastRecord, lastOn, post, recordProduced } from '../chat.ts'

const url = (id: string, emoji: string) => `/api/messages/${id}/reactions/${encodeURIComponent(emoji)}`

t.test('PUT and DELETE a reaction: 204 each, a set per user and emoji, kept on the message', async (t) => {
  const app = await build(t)
  const produced = recordProduced(app)
  const message = await post(app, 'general', 'react to me', 'bob')
  const react = async (method: 'PUT' | 'DELETE', user: string, emoji: string) => {
    const res = await app.inject({ method, url: url(message.id, emoji), headers: as(user) })
    t.equal(res.statusCode, 204, `${method} ${emoji} by ${user}: 204`)
    await handled(app, 'reactions-store', lastOn(produced, 'reactions'))
  }
  await react('PUT', 'alice', '👍')
  await react('PUT', 'alice', '👍')
  await react('PUT', 'carol', '👍')
  await react('PUT', 'alice', ':tada:')
  t.same((await app.store.get(message.id))?.reactions, { '👍': ['alice', 'carol'], ':tada:': ['alice'] }, 'PUT twice is one reaction')
  const event = JSON.parse(lastRecord(produced, 'reactions').value)
  t.match(event, { v: 1, type: 'reaction.added', channelId: 'general', data: { messageId: message.id, emoji: ':tada:', userId: 'alice' } })
  t.equal(lastRecord(produced, 'reactions').key, 'general', 'keyed by channel')
  await react('DELETE', 'alice', '👍')
  await react('DELETE', 'alice', '👍')
  await react('DELETE', 'alice', ':tada:')
  t.same((await app.store.get(message.id))?.reactions, { '👍': ['carol'] }, 'removed; an emptied emoji disappears')
  t.same((await app.inject({ url: '/api/channels/general/messages' })).json().messages[0].reactions, { '👍': ['carol'] }, 'history shows them')
})

t.test('emoji: one emoji grapheme (keycaps only on 0-9 # *) or a :shortcode:, anything else a 400 naming params/emoji', async (t) => {
  const app = await build(t)
  const message = await post(app, 'general', 'picky')
  const produced = recordProduced(app)
  for (const emoji of ['👍🏽', '🇫🇷', '👩🏽‍💻', '1️⃣', '0\u20E3', '#️⃣', '*️⃣', '❤️', ':thumbs_up:', ':+1:']) {
    const res = await app.inject({ method: 'PUT', url: url(message.id, emoji), headers: as('alice') })
    t.equal(res.statusCode, 204, `${emoji} accepted`)
  }
  for (const emoji of ['a', 'ok', '👍👍', '$gt', '$set', '.', 'a.b', ':a.b:', ':UPPER:', '👍\u0000', '\u202e👍', '\n', '.\u20E3', '$\u20E3', 'a\u20E3', 'a\uFE0F\u20E3', '👍\u20E3', '\u20E3', '11\u20E3', ':' + 'x'.repeat(31) + ':', '👍'.repeat(17)]) {
    const res = await app.inject({ method: 'PUT', url: url(message.id, emoji), headers: as('alice') })
    t.equal(res.statusCode, 400, `${JSON.stringify(emoji)}: 400`)
    t.match(res.json(), { statusCode: 400, error: 'Bad Request', message: /params\/emoji/ }, `${JSON.stringify(emoji)}: names the parameter`)
  }
  t.equal(produced.length, 10, 'only the valid ones reached the log')
})

t.test('401 anonymous, 404 an unknown or deleted message, 400 a malformed id; nothing produced', async (t) => {
  const app = await build(t)
  const message = await post(app, 'general', 'soon gone')
  const gone = await post(app, 'general', 'already gone')
  const produced = recordProduced(app)
  await app.inject({ method: 'DELETE', url: `/api/messages/${gone.id}`, headers: as('alice') })
  await handled(app, 'messages-store', lastOn(produced, 'messages'))
  produced.length = 0
  const cases: Array<[string, 'PUT' | 'DELETE', string, Record<string, string>, number, RegExp]> = [
    ['anonymous PUT', 'PUT', message.id, {}, 401, /x-user-id/],
    ['anonymous DELETE', 'DELETE', message.id, {}, 401, /x-user-id/],
    ['unknown message', 'PUT', 'ffffffffffffffffffffffff', as('alice'), 404, /ffffffffffffffffffffffff/],
    ['deleted message', 'PUT', gone.id, as('alice'), 404, new RegExp(gone.id)],
    ['malformed id', 'PUT', 'nope', as('alice'), 400, /params\/id/]
  ]
  for (const [name, method, id, headers, status, why] of cases) {
    const res = await app.inject({ method, url: url(id, '👍'), headers })
    t.equal(res.statusCode, status, `${name}: ${status}`)
    t.match(res.json(), { statusCode: status, message: why }, `${name}: says why`)
  }
  t.equal(produced.length, 0, 'nothing reached the log')
  t.equal((await app.store.get(message.id))?.reactions, undefined, 'no reaction stored')
})
