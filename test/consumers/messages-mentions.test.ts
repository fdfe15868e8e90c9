import t from 'tap'
import { MAX_MENTIONS, mentionedUsers } from '../../consumers/messages-mentions.ts'

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
