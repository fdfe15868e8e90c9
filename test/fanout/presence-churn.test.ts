// A subscribe undone by an unsubscribe before its presence join is written announces nothing
// (issue 10, item 7): subscribe/unsubscribe churn must not turn into presence events for everyone.
import t from 'tap'
import { build } from '../helper.ts'
import { TestClient } from './helpers.ts'
import { createEmbeddedPresence } from '../../plugins/presence/embedded.ts'
import type { PresenceStore } from '../../plugins/presence/presence.ts'

function gate () {
  let open!: () => void
  const opened = new Promise<void>((resolve) => { open = resolve })
  return { open, opened }
}

t.test('join and leave are not announced for a subscription undone before its join was written', async (t) => {
  const inner = createEmbeddedPresence({ ttlSeconds: 300 })
  const joins: string[] = []
  let hold: { entered: ReturnType<typeof gate>, release: ReturnType<typeof gate> } | undefined
  const presence: PresenceStore = {
    ...inner,
    async join (member, name) {
      joins.push(`${member.userId}:${member.channel}`)
      if (hold) { const h = hold; hold = undefined; h.entered.open(); await h.release.opened }
      return inner.join(member, name)
    }
  }
  const app = await build(t, { HOST: '127.0.0.1', WS_IDLE_TIMEOUT: 0 }, { presence })
  const url = `ws://127.0.0.1:${app.fanout.uwsPort}/ws`
  const observer = await TestClient.open(url) // anonymous: present nowhere, sees presence events
  t.match(await observer.subscribe('room'), { op: 'subscribed' })
  const alice = await TestClient.open(url, '?user=alice')

  // 1. Unsubscribed while the join is being written.
  hold = { entered: gate(), release: gate() }
  const first = hold
  t.match(await alice.subscribe('room'), { op: 'subscribed' })
  await first.entered.opened
  alice.send({ op: 'unsubscribe', channel: 'room' })
  await alice.barrier() // the unsubscribe was handled
  first.release.open()
  await app.presence.settled()

  // 2. Unsubscribed before the join was even started (queued behind another channel's join).
  hold = { entered: gate(), release: gate() }
  const second = hold
  t.match(await alice.subscribe('lobby'), { op: 'subscribed' })
  await second.entered.opened
  t.match(await alice.subscribe('room'), { op: 'subscribed' })
  alice.send({ op: 'unsubscribe', channel: 'room' })
  await alice.barrier()
  second.release.open()
  await app.presence.settled()
  t.same(joins, ['alice:room', 'alice:lobby'], 'the second room subscription was never written')
  t.same(await app.presence.store.list('room'), [], 'alice is not present in room')

  // bob's join is keyed like alice's would be (same channel, same partition): it comes after them.
  const bob = await TestClient.open(url, '?user=bob')
  t.match(await bob.subscribe('room'), { op: 'subscribed' })
  await observer.next((f) => f.type === 'presence.join' && f.data.userId === 'bob')
  t.same(observer.events('room').map((f) => `${f.type} ${f.data.userId}`), ['presence.join bob'], 'no join or leave of alice reached anyone')
  for (const c of [observer, alice, bob]) c.close()
})
