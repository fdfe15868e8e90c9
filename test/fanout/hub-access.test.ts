// Access that changes while a subscribe is in flight (issue 10, item 1): the subscribe is checked
// again when it would go live, so a revoked reader never joins the channel.
import t from 'tap'
import { FanoutHub } from '../../fanout/hub.ts'
import type { SocketHandle } from '../../fanout/types.ts'

interface Recorded { handle: SocketHandle, sent: Array<Record<string, unknown>>, joined: string[] }

function recorder (): Recorded {
  const sent: Array<Record<string, unknown>> = []
  const joined: string[] = []
  return { sent, joined, handle: { send (f) { sent.push(JSON.parse(f)) }, subscribe (c) { joined.push(c) }, unsubscribe () {}, close () {} } }
}

/** A promise and its resolver. */
function gate () {
  let open!: () => void
  const opened = new Promise<void>((resolve) => { open = resolve })
  return { open, opened }
}

const forbidden = (channel: string) => Object.assign(new Error(`channel ${channel} is private`), { code: 'forbidden' })

t.test('a subscribe authorised before an access change and still in onSubscribe does not go live', async (t) => {
  const readers = new Set(['eve'])
  const entered = gate()
  const release = gate()
  const live: string[] = []
  const hub = new FanoutHub({
    hooks: {
      async authorizeSubscribe (conn, channel) { if (!readers.has(conn.user!)) throw forbidden(channel) },
      async onSubscribe (_conn, _channel, _since, start) { entered.open(); await release.opened; return { position: start, recovered: false } },
      async onSubscribed (conn, channel) { live.push(`${conn.user}:${channel}`) }
    }
  })
  const eve = recorder()
  const conn = hub.connect(eve.handle, 'uws', { userId: 'eve' }, '::1')
  const subscribing = hub.subscribe(conn, 'launch')
  await entered.opened // authorised, now waiting in the recovery lookup
  readers.delete('eve') // the channel is made private without her
  release.open()
  t.equal(await subscribing, false, 'the subscribe fails')
  t.same(eve.joined, [], 'the socket never joined the channel')
  t.same(live, [], 'never live, so no presence either')
  t.notOk(eve.sent.some((f) => f.op === 'subscribed'), 'no subscribed frame')
  t.match(eve.sent.at(-1), { op: 'error', code: 'forbidden', message: /launch is private/ })
  t.same([...conn.channels], [])
})

t.test('refreshAccess: a change reported while the last check is running is checked again', async (t) => {
  const readers = new Set(['eve'])
  const inCheck = gate()
  const finishCheck = gate()
  let checks = 0
  const hub = new FanoutHub({
    hooks: {
      async authorizeSubscribe (conn, channel) {
        const allowed = readers.has(conn.user!) // read before the change arrives: a stale answer
        if (++checks === 2) { inCheck.open(); await finishCheck.opened }
        if (!allowed) throw forbidden(channel)
      }
    }
  })
  const eve = recorder()
  const conn = hub.connect(eve.handle, 'uws', { userId: 'eve' }, '::1')
  hub.refreshAccess('launch') // no subscribe in flight: nothing to do
  const first = hub.subscribe(conn, 'other')
  hub.refreshAccess('other') // during the first check: one more check runs
  await inCheck.opened // the second check has read "allowed" and is waiting
  readers.delete('eve')
  hub.refreshAccess('other')
  finishCheck.open()
  t.equal(await first, false, 'the third check, after the change, refuses')
  t.equal(checks, 3)
  t.same(eve.joined, [])
  t.match(eve.sent.at(-1), { op: 'error', code: 'forbidden' })

  readers.add('eve')
  t.equal(await hub.subscribe(conn, 'other'), true, 'without a change one check is enough')
  t.equal(checks, 4)
  t.same(eve.joined, ['other'])
})
