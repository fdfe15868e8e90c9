import t, { type Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { Redis } from 'ioredis'
import { build, handled } from '../helper.ts'
import { cleanupReal, realNames, requireService, services } from '../services.ts'

async function post (app: FastifyInstance, channelId: string, content: string) {
  const res = await app.inject({ method: 'POST', url: '/api/messages', payload: { channelId, content, senderId: 'u1' } })
  const body = res.json()
  await Promise.all([handled(app, 'messages-store', body.position), handled(app, 'messages-cache', body.position)])
  return body
}

t.test('history is newest first, pages with before/limit, and says where it came from', async (t) => {
  const app = await build(t, { CACHE_RECENT: 10 })
  const sent = []
  for (let i = 0; i < 15; i++) sent.push(await post(app, 'room', `m${i}`))
  const recent = await app.inject({ url: '/api/channels/room/messages?limit=5' })
  t.equal(recent.statusCode, 200)
  t.equal(recent.headers['x-cache'], 'hit', 'the newest page is within the cached range')
  t.same(recent.json().messages.map((m: any) => m.content), ['m14', 'm13', 'm12', 'm11', 'm10'])
  t.equal(recent.json().nextBefore, sent[10].id)
  const wide = await app.inject({ url: '/api/channels/room/messages?limit=12' })
  t.equal(wide.headers['x-cache'], 'miss', 'more than the cache holds: the store answers')
  t.same(wide.json().messages.map((m: any) => m.content), ['m14', 'm13', 'm12', 'm11', 'm10', 'm9', 'm8', 'm7', 'm6', 'm5', 'm4', 'm3'])
  const older = await app.inject({ url: `/api/channels/room/messages?limit=10&before=${sent[10].id}` })
  t.equal(older.headers['x-cache'], 'miss', 'older than the cache holds: the store answers')
  t.same(older.json().messages.map((m: any) => m.content), ['m9', 'm8', 'm7', 'm6', 'm5', 'm4', 'm3', 'm2', 'm1', 'm0'])
  const last = await app.inject({ url: `/api/channels/room/messages?limit=10&before=${sent[0].id}` })
  t.same(last.json(), { messages: [], nextBefore: null })
})

t.test('a new channel is complete once warmed: short pages are hits', async (t) => {
  const app = await build(t)
  t.same((await app.inject({ url: '/api/channels/fresh/messages' })).json(), { messages: [], nextBefore: null })
  await post(app, 'fresh', 'one')
  const first = await app.inject({ url: '/api/channels/fresh/messages' })
  t.equal(first.headers['x-cache'], 'miss', 'the empty read cached nothing: the first read after the post warms')
  t.same(first.json().messages.map((m: any) => m.content), ['one'])
  const res = await app.inject({ url: '/api/channels/fresh/messages' })
  t.equal(res.headers['x-cache'], 'hit')
  t.same(res.json().messages.map((m: any) => m.content), ['one'])
})

/** Ids nobody has used: reading their history must leave no cache state behind. */
const unknownIds = (n: number) => Array.from({ length: n }, (_v, i) => `unknown-${process.pid}-${i}`)

/** Reads each id's history twice: both must be empty misses (the second one too: nothing was cached). */
async function readAll (t: Test, app: FastifyInstance, ids: string[]) {
  const unexpected: string[] = []
  for (const id of ids) {
    for (let read = 1; read <= 2; read++) {
      const res = await app.inject({ url: `/api/channels/${id}/messages` })
      if (res.statusCode !== 200 || res.headers['x-cache'] !== 'miss' || res.json().messages.length !== 0) {
        unexpected.push(`read ${read} of ${id}: ${res.statusCode} x-cache ${res.headers['x-cache']} ${res.body}`)
      }
    }
  }
  t.same(unexpected.slice(0, 3), [], `${ids.length * 2} reads, every one an empty miss (${unexpected.length} were not)`)
}

t.test('reads of unused channel ids create no cache state (embedded)', async (t) => {
  const app = await build(t)
  const ids = unknownIds(200)
  await readAll(t, app, ids)
  let cached = 0
  for (const id of ids) if (await app.cache.page(id, { limit: 1 }) !== null) cached++
  t.equal(cached, 0, 'every unused id is still a cache miss: nothing was filled for it')
  await post(app, ids[0], 'now it is used')
  t.same((await app.cache.page(ids[0], { limit: 1 }))?.map((m) => m.content), ['now it is used'], 'its first message starts its entry')
})

t.test('reads of unused channel ids create no Redis keys', async (t) => {
  if (!await requireService(t, 'redis')) return
  const names = realNames('history-unused')
  t.teardown(() => cleanupReal({ keyPrefix: names.keyPrefix }))
  const app = await build(t, { REDIS_URL: services.redis, REDIS_KEY_PREFIX: names.keyPrefix })
  const redis = new Redis(services.redis)
  t.teardown(() => redis.quit())
  const keys = async () => (await redis.keys(`${names.keyPrefix}*`)).sort()
  const before = await keys()
  await readAll(t, app, unknownIds(100))
  t.same(await keys(), before, `no new key under ${names.keyPrefix}`)
  await post(app, 'used', 'hello')
  t.ok((await keys()).some((k) => k.startsWith(`${names.keyPrefix}channel:{used}`)), 'a used channel does get its keys (the check can see them)')
})

t.test('bad queries are 400s naming the parameter', async (t) => {
  const app = await build(t)
  for (const [url, name] of [['/api/channels/room/messages?limit=0', 'limit'], ['/api/channels/room/messages?limit=abc', 'limit'], ['/api/channels/room/messages?limit=101', 'limit'], ['/api/channels/room/messages?before=xyz', 'before'], ['/api/channels/bad%20id/messages', 'channelId']]) {
    const res = await app.inject({ url })
    t.equal(res.statusCode, 400, url)
    t.match(res.json().message, new RegExp(name), `${url} names ${name}`)
  }
})

t.test('a cache that fails falls back to the store without a 5xx', async (t) => {
  const app = await build(t)
  await post(app, 'room', 'kept')
  app.cache.page = async () => { throw new Error('cache down') }
  const res = await app.inject({ url: '/api/channels/room/messages' })
  t.equal(res.statusCode, 200)
  t.equal(res.headers['x-cache'], 'miss')
  t.same(res.json().messages.map((m: any) => m.content), ['kept'])
})
