// The recent-messages contract, run against every implementation (embedded and Redis).
import type { Test } from 'tap'
import type { PostedMessage, RecentMessageStore } from '../../plugins/recent-messages/index.ts'

export function recentMessagesContract (t: Test, make: () => Promise<RecentMessageStore>, unique: () => string) {
  const posted = (id: string): PostedMessage => ({ id, channelId: 'general', senderId: 'alice', senderName: 'Alice ü', createdAt: '2026-12-07T09:00:00.000Z', position: { epoch: 'e:0', offset: '41' } })

  t.test('an id never recorded is unknown', async (t) => {
    const store = await make()
    t.equal(await store.get(unique()), undefined)
  })

  t.test('a posted message is found as recorded', async (t) => {
    const store = await make()
    const id = unique()
    await store.posted(posted(id), 60)
    t.same(await store.get(id), { state: 'posted', message: posted(id) })
  })

  t.test('a deletion replaces the post, and a post recorded after it does not bring it back', async (t) => {
    const store = await make()
    const id = unique()
    await store.posted(posted(id), 60)
    await store.deleted(id, 60)
    t.same(await store.get(id), { state: 'deleted' })
    await store.posted(posted(id), 60)
    t.same(await store.get(id), { state: 'deleted' }, 'a late or repeated post record leaves the deletion')
  })

  t.test('a deletion of a message never recorded (posted long ago) is recorded too', async (t) => {
    const store = await make()
    const id = unique()
    await store.deleted(id, 60)
    t.same(await store.get(id), { state: 'deleted' })
  })

  t.test('ids are independent', async (t) => {
    const store = await make()
    const [a, b] = [unique(), unique()]
    await store.posted(posted(a), 60)
    await store.posted(posted(b), 60)
    await store.deleted(a, 60)
    t.same(await store.get(b), { state: 'posted', message: posted(b) })
  })
}
