// @switchboard/client's pin helpers against a switchboard on the embedded services: a pin made
// through one client reaches another's channel live, is listed by pins(), and the limit is a 409.
import t from 'tap'
import WebSocket from 'ws'
import { build, handled } from '../helper.ts'
import { recordProduced, lastOn } from '../chat.ts'
import { client, listen } from './harness.ts'
import { createClient, SwitchboardError, type Message } from '../../client/src/index.ts'

t.test('channel.pin / unpin / pins: live pin events to other clients, the list newest first, 409 past PINS_MAX', async (t) => {
  const app = await build(t, { PINS_MAX: 2 })
  const produced = recordProduced(app)
  const { api, ws } = await listen(app)
  const ada = client(t, { url: ws, api, user: { id: 'ada' } })
  const bob = client(t, { url: ws, api, user: { id: 'bob' } })
  const mine = ada.channel('room')
  const theirs = bob.channel('room')
  await Promise.all([mine.next('subscribed'), theirs.next('subscribed')])
  const posted: Message[] = []
  for (const content of ['one', 'two', 'three']) posted.push(await ada.api.post({ channelId: 'room', content }))

  const added = theirs.next('pin.added')
  await mine.pin(posted[0].id)
  t.match(await added, { channel: 'room', type: 'pin.added', data: { messageId: posted[0].id, userId: 'ada', version: Number } })
  await mine.pin(posted[1].id)
  await handled(app, 'pins-store', lastOn(produced, 'pins'))
  t.same((await theirs.pins()).map((p) => [p.message.content, p.pinnedBy]), [['two', 'ada'], ['one', 'ada']], 'newest pin first')

  const full = await mine.pin(posted[2].id).then(() => null, (err: unknown) => err)
  t.ok(full instanceof SwitchboardError, 'a SwitchboardError')
  t.match(full, { status: 409, message: /has 2 pinned messages already \(PINS_MAX\)/ })

  const removed = theirs.next('pin.removed')
  await theirs.unpin(posted[0].id)
  t.match(await removed, { data: { messageId: posted[0].id, userId: 'bob' } })
  await mine.pin(posted[2].id)
  await handled(app, 'pins-store', lastOn(produced, 'pins'))
  t.same((await mine.pins()).map((p) => p.message.content), ['three', 'two'])
})

t.test('without the `api` option the pin helpers say what they need', async (t) => {
  const c = createClient({ url: 'ws://127.0.0.1:1/ws', WebSocket, autoConnect: false })
  t.teardown(() => c.close())
  await t.rejects(c.channel('room').pin('0'.repeat(24)), { message: 'pinning needs the `api` option (the HTTP API base URL)' })
  await t.rejects(c.channel('room').pins(), { message: /reading pins needs the `api` option/ })
})
