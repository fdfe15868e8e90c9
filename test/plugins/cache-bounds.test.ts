// Bounds that hold (issue 10, item 11, the cache's half): tombstones and parked patches are kept per
// channel up to CACHE_TOMBSTONES / CACHE_PARKED, oldest first out, and /metrics counts what the
// bounds dropped. (The contract suite checks the same bounds on both implementations.)
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { build, handled } from '../helper.ts'
import type { Position } from '../../schemas/message.ts'

async function post (app: FastifyInstance, content: string): Promise<{ id: string, position: Position }> {
  const res = await app.inject({ method: 'POST', url: '/api/messages', payload: { channelId: 'room', content, senderId: 'u1' } })
  if (res.statusCode !== 201) throw new Error(`post failed: ${res.statusCode} ${res.body}`)
  const body = res.json()
  await handled(app, 'messages-store', body.position)
  return body
}

t.test('CACHE_TOMBSTONES and CACHE_PARKED bound an active channel; /metrics counts what they dropped', async (t) => {
  const app = await build(t, { CACHE_RECENT: 2, CACHE_TOMBSTONES: 2, CACHE_PARKED: 1 })
  const sent = []
  for (let i = 0; i < 5; i++) sent.push(await post(app, `m${i}`))
  // m0-m2 are below the cached range (2 kept): their edits are parked, one at most
  for (const m of sent.slice(0, 3)) t.equal((await app.inject({ method: 'PATCH', url: `/api/messages/${m.id}`, headers: { 'x-user-id': 'u1' }, payload: { content: 'edited' } })).statusCode, 200)
  for (const m of sent) t.equal((await app.inject({ method: 'DELETE', url: `/api/messages/${m.id}`, headers: { 'x-user-id': 'u1' } })).statusCode, 204)
  const last = await post(app, 'after') // in log order after every edit and deletion
  await handled(app, 'messages-cache', last.position)
  t.same(app.cache.stats, { tombstonesTrimmed: 3, parkedTrimmed: 2 }, 'five deletions over a bound of two, three parked edits over a bound of one')
  const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body
  t.match(metrics, /^switchboard_cache_tombstones_trimmed_total 3$/m)
  t.match(metrics, /^switchboard_cache_parked_trimmed_total 2$/m)
})
