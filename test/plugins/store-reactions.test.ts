// Reactions in both stores: an emoji (any user string) is only ever a key of `reactions`, never a
// field path or an object's inherited member, and concurrent reactions all land (where the server
// applies updates atomically: MongoDB, not FerretDB).
import t, { type Test } from 'tap'
import type { MessageStore } from '../../plugins/store/store.ts'
import type { Message } from '../../schemas/message.ts'
import { createEmbeddedStore } from '../../plugins/store/embedded.ts'
import { MongoClient } from 'mongodb'
import { createMongoStore } from '../../plugins/store/mongo.ts'
import { message } from '../contracts/cache.ts'
import { cleanupReal, mongoDatabase, realNames, requireService, services, testLogger } from '../services.ts'

/** Stores a new message (through `apply` where the store has it, `upsert` before that rewrite). */
async function create (store: MessageStore, m: Message) {
  const s = store as unknown as { apply?: (changes: unknown[]) => Promise<void>, upsert?: (m: Message) => Promise<void> }
  if (s.apply) await s.apply([{ type: 'create', message: m, position: m.position }])
  else await s.upsert!(m)
}

function reactionSuite (t: Test, make: () => MessageStore, atomic: string | true) {
  let n = 0
  const stored = async (store: MessageStore) => {
    const m = message(`r${++n}`, 'react to me', { position: { epoch: 'reactions-test', offset: String(n) } })
    await create(store, m)
    return m
  }

  t.test('names of Object.prototype members are plain emoji keys', async (t) => {
    const store = make()
    t.teardown(() => store.close())
    const m = await stored(store)
    for (const emoji of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) {
      const after = await store.react(m.id, emoji, 'u1', true)
      t.same(after && Object.getOwnPropertyDescriptor(after, emoji)?.value, ['u1'], `${emoji}: an own key holding its users`)
    }
    t.same(Object.keys((await store.get(m.id))!.reactions!), ['constructor', 'toString', '__proto__', 'hasOwnProperty'], 'kept in order')
    await store.react(m.id, 'toString', 'u1', false)
    t.notOk(Object.hasOwn((await store.get(m.id))!.reactions!, 'toString'), 'an emptied one disappears')
  })

  t.test('a dotted emoji is never a field path: stored under its own name, or refused', async (t) => {
    const store = make()
    t.teardown(() => store.close())
    const m = await stored(store)
    await store.react(m.id, '👍', 'u1', true)
    // MongoDB 5+ stores any key; FerretDB refuses keys holding `.` (the HTTP validator never sends one)
    const after = await store.react(m.id, 'content.x', 'u1', true).catch((err: Error) => err)
    const reactions = (await store.get(m.id))!.reactions!
    if (after instanceof Error) t.same(reactions, { '👍': ['u1'] }, `refused (${after.message}), nothing changed`)
    else t.same(reactions, { '👍': ['u1'], 'content.x': ['u1'] }, 'stored under its own name')
    t.notOk('content' in reactions, 'no nested object made from a path')
    t.equal((await store.get(m.id))!.content, 'react to me', 'other fields untouched')
  })

  t.test('concurrent reactions to one message all land', { skip: atomic === true ? false : atomic }, async (t) => {
    const store = make()
    t.teardown(() => store.close())
    const m = await stored(store)
    const users = Array.from({ length: 12 }, (_, i) => `u${i}`)
    await Promise.all(users.flatMap((u) => [store.react(m.id, '👍', u, true), store.react(m.id, '🎉', u, true)]))
    const reactions = (await store.get(m.id))!.reactions!
    t.same([...reactions['👍']].sort(), [...users].sort())
    t.same([...reactions['🎉']].sort(), [...users].sort())
    await Promise.all(users.map((u) => store.react(m.id, '👍', u, false)))
    t.same(await store.get(m.id).then((s) => s!.reactions), { '🎉': reactions['🎉'] }, 'all removals land; the emptied emoji is gone')
  })
}

t.test('embedded', async (t) => reactionSuite(t, () => createEmbeddedStore(), true))

t.test('mongo', async (t) => {
  if (!await requireService(t, 'mongo')) return
  const { database } = realNames('reactions')
  t.teardown(() => cleanupReal({ database }))
  const client = new MongoClient(services.mongo)
  const build = await client.db('admin').command({ buildInfo: 1 }).finally(() => client.close())
  const atomic = build.ferretdbVersion ? `FerretDB ${build.ferretdbVersion} applies concurrent updates to one document non-atomically (even $inc loses updates)` : true
  const db = mongoDatabase(t, database)
  reactionSuite(t, () => createMongoStore(db, { logger: testLogger() }), atomic)
})
