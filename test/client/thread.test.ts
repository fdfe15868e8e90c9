// channel.thread(parentId) against a switchboard on the embedded services: the replies of the first
// load, then live replies, edits, reactions, deletions and the parent's thread state; and reply().
import t from 'tap'
import { build, handled } from '../helper.ts'
import { client, listen } from './harness.ts'
import type { Message, Thread } from '../../client/src/index.ts'

/** Resolves once the thread's replies read `contents` (oldest first), waiting on its `change` events. */
function shows (thread: Thread, contents: string[], what = (m: Message) => m.content): Promise<void> {
  const now = () => JSON.stringify(thread.replies.map(what)) === JSON.stringify(contents)
  if (now()) return Promise.resolve()
  return thread.next('change').then(() => shows(thread, contents, what))
}

t.test('a thread loads its replies, follows the live ones and posts its own', async (t) => {
  const app = await build(t)
  const { api, ws } = await listen(app)
  const ada = client(t, { url: ws, api, user: { id: 'ada' } })
  const bob = client(t, { url: ws, api, user: { id: 'bob' } })
  const room = ada.channel('general')
  await room.next('subscribed')
  const parent = await ada.api.post({ channelId: 'general', content: 'lunch?' })
  const early = await bob.api.post({ channelId: 'general', content: 'yes', parentId: parent.id })
  t.equal(early.parentId, parent.id, 'api.post takes parentId')
  await handled(app, 'messages-store', early.position!) // the first load reads the store

  const thread = room.thread(parent.id)
  await thread.loaded
  await shows(thread, ['yes'])

  const state = thread.next('state')
  const mine = await thread.reply('me too')
  t.match(mine, { parentId: parent.id, channelId: 'general', senderId: 'ada' }, 'reply() posts in the thread')
  await shows(thread, ['yes', 'me too'])
  t.same((await state).participants, ['bob', 'ada'], 'thread.updated gives the parent\'s state')
  t.equal(thread.state?.replyCount, 2)

  const bobsThread = bob.channel('general').thread(parent.id)
  await bobsThread.loaded
  await shows(bobsThread, ['yes', 'me too'], (m) => m.content)
  const other = await ada.api.post({ channelId: 'general', content: 'another thread\'s parent' })
  await ada.api.post({ channelId: 'general', content: 'elsewhere', parentId: other.id })
  await ada.api.post({ channelId: 'general', content: 'not a reply' })
  await bob.api.edit(early.id, 'yes!')
  await shows(thread, ['yes!', 'me too'], (m) => m.content)
  t.same(thread.replies.map((m) => m.content), ['yes!', 'me too'], 'neither other threads\' replies nor channel messages join it')
  await ada.api.react(early.id, '👍')
  await shows(thread, ['👍', ''], (m) => Object.keys(m.reactions ?? {}).join(','))
  await bob.api.delete(early.id)
  await shows(thread, ['me too'])
  await shows(bobsThread, ['me too'])

  thread.close()
  await bob.api.post({ channelId: 'general', content: 'after close', parentId: parent.id })
  await shows(bobsThread, ['me too', 'after close'])
  t.same(thread.replies.map((m) => m.content), ['me too'], 'a closed thread follows nothing')
})

t.test('a thread loads every page of a long one', async (t) => {
  const app = await build(t)
  const { api, ws } = await listen(app)
  const ada = client(t, { url: ws, api, user: { id: 'ada' } })
  const parent = await ada.api.post({ channelId: 'general', content: 'count' })
  let last: Message | undefined
  for (let i = 0; i < 5; i++) last = await ada.api.post({ channelId: 'general', content: `r${i}`, parentId: parent.id })
  await handled(app, 'messages-store', last!.position!)
  const thread = ada.channel('general').thread(parent.id, { pageSize: 2 })
  let changes = 0
  thread.on('change', () => changes++)
  await thread.loaded
  t.same(thread.replies.map((m) => m.content), ['r0', 'r1', 'r2', 'r3', 'r4'], 'three pages of two, oldest first')
  t.equal(changes, 1, 'one change once every page is read')
})
