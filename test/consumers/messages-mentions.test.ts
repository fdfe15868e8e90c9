import t from 'tap'
import { MAX_MENTIONS, mentionedUsers } from '../../consumers/messages-mentions.ts'
import { build, handled } from '../helper.ts'
import { as, recordProduced } from '../chat.ts'

t.test('mentions: user ids after @, each once, in order, without sentence punctuation', async (t) => {
  t.same(mentionedUsers('@ada hi @bob.smith, @ada again'), ['ada', 'bob.smith'])
  t.same(mentionedUsers('ask @ada. or @bob: or @carol-1'), ['ada', 'bob', 'carol-1'])
  t.same(mentionedUsers('mail ada@example.com or x@y'), [], 'not inside a word or an address')
  t.same(mentionedUsers('@ @. @: done'), [], 'no id names nobody')
  t.same(mentionedUsers('hi @ada@example.com'), [], 'an address is not a mention (user ids hold no @)')
  t.same(mentionedUsers('(@ada) "@bob"'), ['ada', 'bob'], 'brackets and quotes around are fine')
  t.same(mentionedUsers('@' + 'x'.repeat(200)), ['x'.repeat(120)], 'ids are at most 120 characters')
  const many = Array.from({ length: 50 }, (_v, i) => `@u${i}`).join(' ')
  t.equal(mentionedUsers(many).length, MAX_MENTIONS, `at most ${MAX_MENTIONS} users per message`)
})

t.test('a member removed before the message was posted gets no excerpt, even while this instance\'s copy still lists them', async (t) => {
  // CHANNEL_CACHE_MS long: this instance's copy of the channel stays as it was read
  const app = await build(t, { CHANNEL_CACHE_MS: 600_000 })
  const created = await app.inject({ method: 'POST', url: '/api/channels', headers: as('owner'), payload: { id: 'secret', private: true, members: ['bob', 'carol'] } })
  t.equal(created.statusCode, 201)
  t.equal(await app.channels.refusal({ id: 'bob' }, 'secret', 'read'), undefined, 'bob is a member, and this instance keeps that copy')
  // Another instance removed bob: the store has it, and this instance has not handled the
  // `channels` event yet (here: none comes, the store was written directly).
  t.equal(await app.channels.store.removeMember('secret', 'bob'), true)
  t.equal(await app.channels.refusal({ id: 'bob' }, 'secret', 'read'), undefined, 'the copy is stale: it still lets bob read')

  const produced = recordProduced(app)
  let storeReads = 0
  const get = app.channels.store.get.bind(app.channels.store)
  app.channels.store.get = async (id) => { storeReads++; return get(id) }
  const postAndMention = async (content: string) => {
    const res = await app.inject({ method: 'POST', url: '/api/messages', headers: as('owner'), payload: { channelId: 'secret', content } })
    t.equal(res.statusCode, 201, `posted ${JSON.stringify(content)} (the copy lets the owner post)`)
    await handled(app, 'messages-mentions', res.json().position)
    return res.json()
  }

  await postAndMention('no mention here')
  t.equal(storeReads, 0, 'a message without mentions reads nothing')
  await postAndMention('@owner talking to myself')
  t.equal(storeReads, 0, 'nor one that mentions only its sender')

  const message = await postAndMention('hey @bob and @carol, the plan')
  t.equal(storeReads, 1, 'one store read for the message, not one per mentioned user')
  const notified = produced.filter((p) => p.topic === 'notifications').map((p) => JSON.parse(p.value))
  t.same(notified.map((n) => n.userId), ['carol'], 'carol, a member, is notified; bob, removed, is not')
  t.match(notified[0].data, { kind: 'mention', messageId: message.id, channelId: 'secret', excerpt: 'hey @bob and @carol, the plan' })
})

t.test('mentions in a public channel notify every mentioned user but the sender', async (t) => {
  const app = await build(t)
  const produced = recordProduced(app)
  const res = await app.inject({ method: 'POST', url: '/api/messages', headers: as('alice'), payload: { channelId: 'general', content: '@bob @alice @dave hello' } })
  t.equal(res.statusCode, 201)
  await handled(app, 'messages-mentions', res.json().position)
  t.same(produced.filter((p) => p.topic === 'notifications').map((p) => p.key), ['bob', 'dave'])
})
