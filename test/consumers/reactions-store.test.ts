// A reaction can reach the store before its message (two topics, no order between them).
import t from 'tap'
import { build, handled } from '../helper.ts'
import type { ReactionEvent } from '../../schemas/events.ts'
import { message } from '../contracts/cache.ts'

const reaction = (messageId: string): ReactionEvent => ({ v: 1, type: 'reaction.added', channelId: 'general', at: new Date().toISOString(), data: { messageId, emoji: '👍', userId: 'alice' } })

t.test('a reaction to a message not stored yet is retried until the message is there', async (t) => {
  const app = await build(t)
  const late = message('general', 'arrives late')
  const react = app.store.react.bind(app.store)
  let attempts = 0
  const positions: unknown[] = []
  app.store.react = async (...args) => {
    positions.push(args[4])
    const result = await react(...args)
    // The first attempt finds nothing; the message lands before the retry (no waiting on time).
    if (++attempts === 1) await app.store.apply([{ type: 'create', message: late, position: { epoch: 'e', offset: '0' } }])
    return result
  }
  const position = await app.events.produce('reactions', 'general', reaction(late.id))
  const outcome = await handled(app, 'reactions-store', position)
  t.equal(outcome.outcome, 'ok')
  t.equal(attempts, 2, 'failed once, then succeeded')
  t.same((await app.store.get(late.id))?.reactions, { '👍': ['alice'] })
  t.same(positions, [position, position], 'with the event\'s position, so a stale write cannot undo a later reaction')
})

t.test('a reaction whose message never comes goes to reactions.dlq with the reason, and the partition moves on', async (t) => {
  const app = await build(t)
  const letters: Array<Record<string, string>> = []
  const consumer = await app.bus.consume({ name: 'test-dlq-reader', topic: 'reactions.dlq', mode: 'shared', handle: async (r) => { letters.push(JSON.parse(r.value.toString())) } })
  t.teardown(() => consumer.stop())
  const orphan = reaction('ffffffffffffffffffffffff')
  const position = await app.events.produce('reactions', 'general', orphan)
  t.equal((await handled(app, 'reactions-store', position)).outcome, 'dead-letter')
  const stored = message('general', 'here')
  await app.store.apply([{ type: 'create', message: stored, position: { epoch: 'e', offset: '1' } }])
  const next = await app.events.produce('reactions', 'general', reaction(stored.id))
  t.equal((await handled(app, 'reactions-store', next)).outcome, 'ok', 'the next reaction on the partition is handled')
  t.equal(letters.length, 1)
  t.match(letters[0], { handler: 'reactions-store', topic: 'reactions', offset: position.offset, reason: /failed 5 times: message f{24} is not in the store/ })
  t.same(JSON.parse(letters[0].payload), orphan, 'with the original event')
})

t.test('a reaction to a message its post recorded lately waits for the store however long it takes, never dead-lettered', async (t) => {
  const app = await build(t)
  const late = message('general', 'posted, stored late')
  await app.recentMessages.posted(late)
  const react = app.store.react.bind(app.store)
  let attempts = 0
  app.store.react = async (...args) => {
    const result = await react(...args)
    // more misses than the 5 attempts an unknown message gets; the message lands before the next try
    if (++attempts === 5) await app.store.apply([{ type: 'create', message: late, position: { epoch: 'e', offset: '0' } }])
    return result
  }
  const position = await app.events.produce('reactions', 'general', reaction(late.id))
  t.equal((await handled(app, 'reactions-store', position)).outcome, 'ok')
  t.equal(attempts, 6, 'missed five times (an unknown message is dead-lettered at that point), then stored')
  t.same((await app.store.get(late.id))?.reactions, { '👍': ['alice'] })
})
