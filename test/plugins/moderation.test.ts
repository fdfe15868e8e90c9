// AutoMod: the blocklist refuses with a 422 naming the rule; plugin checks run too; nothing is posted.
import t from 'tap'
import { build } from '../helper.ts'
import { loadConfig } from '../../config.ts'
import { parseBlocklist } from '../../schemas/blocklist.ts'

t.test('the blocklist parses words and /regex/flags entries, commas inside patterns included', async (t) => {
  const rules = parseBlocklist(' spam , /fr[e3]{1,2} m0ney/i,  eggs and ham,/a\\/b/ ')
  t.same(rules.map((r) => r.rule), ['spam', '/fr[e3]{1,2} m0ney/i', 'eggs and ham', '/a\\/b/'])
  t.same(parseBlocklist(''), [])
  t.throws(() => loadConfig({ MODERATION_BLOCKLIST: 'ok,/(unclosed/' }), /MODERATION_BLOCKLIST entry \/\(unclosed\/ is not a valid regular expression/)
})

t.test('blocked content is a 422 naming the rule; clean content passes; nothing blocked reaches the log', async (t) => {
  const app = await build(t, { MODERATION_BLOCKLIST: 'spam,/fr[e3]e m[o0]ney/i' })
  let produced = 0
  const produce = app.bus.produce.bind(app.bus)
  app.bus.produce = async (...args) => { produced++; return produce(...args) }
  const post = (content: string) => app.inject({ method: 'POST', url: '/api/messages', payload: { channelId: 'general', content, senderId: 'u1' } })
  const word = await post('buy SPAM now')
  t.equal(word.statusCode, 422)
  t.match(word.json(), { statusCode: 422, error: 'Unprocessable Entity', message: /moderation rule "blocklist spam"/ })
  t.match((await post('get FR3E M0NEY')).json(), { statusCode: 422, message: /rule "blocklist \/fr\[e3\]e m\[o0\]ney\/i"/ })
  t.equal(produced, 0, 'refused messages were never produced')
  t.equal((await post('spammer is a different word')).statusCode, 201, 'words match whole words only')
  t.equal((await post('perfectly fine')).statusCode, 201)
  t.equal(produced, 2)
})

t.test('plugin authors register their own checks (async too); a later registration with the same name replaces it', async (t) => {
  const app = await build(t)
  app.moderation.register({
    name: 'no-shouting',
    async check ({ content }) { return content.length > 3 && content === content.toUpperCase() ? { rule: 'no-shouting', reason: 'all capitals' } : undefined }
  })
  const post = (content: string, channelId = 'general') => app.inject({ method: 'POST', url: '/api/messages', payload: { channelId, content } })
  t.match((await post('HELLO THERE')).json(), { statusCode: 422, message: 'message refused by moderation rule "no-shouting": all capitals' })
  t.equal((await post('hello there')).statusCode, 201)
  app.moderation.register({ name: 'no-shouting', check: ({ channelId }) => channelId === 'quiet' ? { rule: 'quiet channel' } : undefined })
  t.equal((await post('HELLO THERE')).statusCode, 201, 'the replaced check no longer runs')
  t.match((await post('hi', 'quiet')).json(), { statusCode: 422, message: /quiet channel/ })
  const refused = await app.moderation.check({ channelId: 'quiet', senderId: 'u', content: 'x' }).catch((err: unknown) => err)
  t.match(refused, { statusCode: 422, rule: 'quiet channel' }, 'callable from other routes (edits)')
  t.throws(() => app.moderation.register({ name: '', check: () => undefined }), /needs \{name, check/)
})
