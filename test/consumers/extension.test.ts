// A plugin author adds a topic handler with one file: the registry loads it, creates its topic and
// dead-letter topic, validates, handles and dead-letters, with nothing else changed.
import t from 'tap'
import { fileURLToPath } from 'node:url'
import { loadHandlers } from '../../plugins/topic-handlers.ts'
import { build, handled } from '../helper.ts'
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import auditLog, { audited } from '../fixtures/consumers/audit-log.ts'

const dir = fileURLToPath(new URL('../fixtures/consumers', import.meta.url))

t.test('every file in the consumers folder is loaded, default-exported handler included', async (t) => {
  const handlers = await loadHandlers(dir)
  t.same(handlers.map((h) => [h.name, h.topic.name, h.mode]), [['audit-log', 'audit', 'shared']])
})

t.test('one file is enough: topics created at boot, events validated, handled, dead-lettered', async (t) => {
  const app = await build(t, {}, { handlers: await loadHandlers(dir) })
  t.ok(app.topicHandlers.topics().includes('audit'), 'its topic is created')
  t.ok(app.topicHandlers.topics().includes('audit.dlq'), 'and its dead-letter topic')
  t.ok(app.topicHandlers.topics().includes('messages'), 'the built-in handlers still run beside it')

  const good = await app.events.produce('audit', 'ada', { v: 1, actor: 'ada', action: 'login' })
  t.equal((await handled(app, 'audit-log', good)).outcome, 'ok')
  t.same(audited.at(-1), { actor: 'ada', action: 'login', offset: good.offset })

  let letter!: (value: string) => void
  const dead = new Promise<string>((resolve) => { letter = resolve })
  const consumer = await app.bus.consume({ name: 'test-audit-dlq', topic: 'audit.dlq', mode: 'shared', handle: async (r) => letter(r.value.toString()) })
  t.teardown(() => consumer.stop())
  await t.rejects(app.events.produce('audit', 'ada', { v: 1, actor: '' }), /refusing to produce an invalid audit event/, 'the producer validates against the declared topic')
  // a service writing straight to the log skips that check: the consumer validates too
  const bad = await app.bus.produce('audit', 'ada', JSON.stringify({ v: 1, actor: '' }))
  t.equal((await handled(app, 'audit-log', bad)).outcome, 'dead-letter', 'an invalid event is dead-lettered')
  const after = await app.events.produce('audit', 'ada', { v: 1, actor: 'ada', action: 'logout' })
  t.equal((await handled(app, 'audit-log', after)).outcome, 'ok', 'and the next one handled')
  t.equal(audited.length, 2, 'the invalid one never reached handle()')
  t.match(JSON.parse(await dead), { handler: 'audit-log', topic: 'audit', reason: /^schema: /, payload: JSON.stringify({ v: 1, actor: '' }) })
})

t.test('a plugin adds the same handler through app.topicHandlers.add, with no file in consumers/', async (t) => {
  const app = await build(t, {}, {}, fp(async (app: FastifyInstance) => { app.topicHandlers.add(auditLog) }, { dependencies: ['topic-handlers'] }))
  t.ok(app.topicHandlers.topics().includes('audit'), 'its topic is created')
  const position = await app.events.produce('audit', 'grace', { v: 1, actor: 'grace', action: 'plugged in' })
  t.equal((await handled(app, 'audit-log', position)).outcome, 'ok')
  t.same(audited.at(-1), { actor: 'grace', action: 'plugged in', offset: position.offset })
  t.throws(() => app.topicHandlers.add({ ...auditLog, name: 'too-late' }), /added after the consumers started/, 'adding after ready is refused')
})
