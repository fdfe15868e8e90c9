import t from 'tap'
import fc from 'fast-check'
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

t.test('the emoji rule is the pattern the document publishes: a client checking with it agrees with the server', async (t) => {
  const app = await build(t, { RATE_LIMIT_MAX: 0 })
  const message = await post(app, 'general', 'pattern')
  const doc = (await app.inject('/docs/json')).json()
  const parameter = doc.paths['/api/messages/{id}/reactions/{emoji}'].put.parameters.find((p: { name: string }) => p.name === 'emoji')
  t.type(parameter?.schema?.pattern, 'string', 'params/emoji has a pattern')
  t.notOk(parameter.schema.format, 'and no format a client cannot check')
  const client = new RegExp(parameter.schema.pattern, 'u')
  const accepted = async (emoji: string) => {
    const res = await app.inject({ method: 'PUT', url: url(message.id, emoji), headers: as('alice') })
    if (res.statusCode !== 204 && res.statusCode !== 400) t.fail(`${JSON.stringify(emoji)}: ${res.statusCode}`)
    return res.statusCode === 204
  }
  const fixed = ['👍', '👍🏽', '🇫🇷', '🇦', '👩🏽‍💻', '🧑🏻‍❤️‍💋‍🧑🏼', '🏳️‍🌈', '🏴‍☠️', '👁️‍🗨️', '🏴󠁧󠁢󠁳󠁣󠁴󠁿', '❤️', '❤︎', '©', '1️⃣', '0⃣', '#️⃣', ':tada:',
    'a', '👍👍', '🏽', '👍\u200D', '\u200D👍', '.⃣', '👍\u{E0067}', '🇫🇷🇫', '👍\u0301', ':Tada:', '',
    // five pictographs joined (24 UTF-16 units) are one emoji; six are not
    Array(5).fill('👩🏽').join('\u200D'), Array(6).fill('👩🏽').join('\u200D')]
  // and generated strings over the characters emoji are made of (fixed seed)
  const parts = ['👍', '👍🏽', '❤️', '🇫🇷', '1️⃣', '🏴󠁧󠁢󠁳󠁣󠁴󠁿', ':ok:', '\u200D', '\u200D', '🏽', '\uFE0F', '\u20E3', '🇫', '\u{E0067}', '\u{E007F}', '#', 'a', '.', '$', ' ', '\u0301', '©']
  // never `.` or `..` alone: URLs resolve those segments away (even percent-encoded), so no client can send them
  const generated = fc.sample(fc.array(fc.constantFrom(...parts), { minLength: 1, maxLength: 4 }).map((a) => a.join('')).filter((e) => e !== '.' && e !== '..'), { seed: 20261129, numRuns: 300 })
  let agree = 0
  for (const emoji of [...fixed, ...generated]) {
    const server = emoji !== '' && await accepted(emoji)
    if (client.test(emoji) === server) agree++
    else t.fail(`${JSON.stringify(emoji)}: the pattern says ${client.test(emoji)}, the server ${server}`)
  }
  t.equal(agree, fixed.length + generated.length, 'the pattern and the server agree on every string tried')
  t.ok(new Set(generated.filter((e) => client.test(e))).size >= 10, 'ten or more of the generated strings are emoji')
  // One code point alone is an emoji exactly when it is a pictograph or a regional indicator.
  const single = /^(?:\p{Extended_Pictographic}|\p{Regional_Indicator})$/u
  let mismatches = 0
  for (let cp = 0; cp <= 0x10FFFF; cp++) {
    if (cp >= 0xD800 && cp <= 0xDFFF) continue
    const c = String.fromCodePoint(cp)
    if (client.test(c) !== single.test(c) && mismatches++ < 5) t.fail(`U+${cp.toString(16)}: the pattern says ${client.test(c)}`)
  }
  t.equal(mismatches, 0, 'the pattern\'s pictographs are Unicode\'s Extended_Pictographic')
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
