// @switchboard/client on Kafka, Redis and MongoDB while messages flow at a steady rate: the
// connection is cut through a TCP relay, then the serving instance (a process of its own) is killed
// with SIGKILL and a new process takes its place behind the relay. Posts go through instance B (in
// this process), so every post is acknowledged; the client's stream must hold every one of them
// exactly once, in order, and each resume must be reported truthfully (`recovered`, or a `gap`
// followed by a reload over HTTP).
import t from 'tap'
import { buildReal, cleanupReal, realNames, requireServices, startInstanceProcess } from '../services.ts'
import { client, listen, Relay } from './harness.ts'
import type { HistoryMessage, Message } from '../../client/src/index.ts'
import { compareOffsets } from '../../client/src/position.ts'

const CHANNEL = 'flow'

if (await requireServices(t, 'kafka', 'redis', 'mongo')) {
  t.test('steady flow: a relay cut, then SIGKILL and restart; every acknowledged message once, in order', async (t) => {
    const names = realNames('client-kill')
    t.teardown(() => cleanupReal(names))

    // B posts and answers history; A (a process) serves the client's socket through the relay.
    const b = await buildReal(t, { names, RATE_LIMIT_MAX: 0 })
    const bUrls = await listen(b)
    const a = await startInstanceProcess(t, names)
    const relay = await new Relay(a.port).start()
    t.teardown(() => relay.cut())

    const c = client(t, { url: `ws://127.0.0.1:${relay.port}/ws`, api: bUrls.api, user: { id: 'reader' }, reload: true })
    const room = c.channel(CHANNEL, { historyLimit: 100 })

    // The stream as an app shows it, in delivery order: a reload replaces what it covers (from
    // its oldest message on) and keeps what came before; a created message is appended.
    let stream: HistoryMessage[] = []
    const resumes: Array<{ gap: boolean, recovered: boolean, reloaded: boolean }> = []
    let gapPending = false
    const waiters: Array<() => void> = []
    const changed = () => { for (const w of waiters.splice(0)) w() }
    const errors: unknown[] = []
    room.on('error', (e) => errors.push(e))
    room.on('gap', () => { gapPending = true })
    room.on('subscribed', (s) => {
      if (s.resumed) resumes.push({ gap: gapPending, recovered: s.recovered, reloaded: false })
      gapPending = false
      changed()
    })
    room.on('reload', (page) => {
      const oldest = page.messages.at(-1)?.position
      stream = [
        ...(oldest ? stream.filter((m) => compareOffsets(m.position!.offset, oldest.offset) < 0) : stream),
        ...[...page.messages].reverse()
      ]
      if (resumes.length) resumes[resumes.length - 1].reloaded = true
      changed()
    })
    room.on('message.created', ({ data }) => { stream.push(data); changed() })
    /** Resolves when `done` holds, checked on every client event and acknowledgement (never on a timer). */
    const until = (done: () => boolean): Promise<void> => new Promise((resolve) => {
      const check = () => { if (done()) resolve(); else waiters.push(check) }
      check()
    })

    // The poster: one post every 20 ms through B; what B answers 201 is acknowledged.
    const acked: Message[] = []
    const inFlight = new Set<Promise<void>>()
    let n = 0
    const post = () => {
      const content = `m${++n}`
      const p = b.inject({ method: 'POST', url: '/api/messages', headers: { 'x-user-id': 'ada' }, payload: { channelId: CHANNEL, content } })
        .then((res) => { if (res.statusCode === 201) { acked.push(res.json()); changed() } })
        .catch(() => {})
        .finally(() => inFlight.delete(p))
      inFlight.add(p)
    }
    await room.next('reload')
    const timer = setInterval(post, 20)
    t.teardown(() => clearInterval(timer))
    const shows = (count: number) => until(() => stream.length >= count)

    // 1. the network cut, mid-flow: the same instance replays what the client missed
    await shows(5)
    await relay.cut()
    await c.next('disconnected')
    const beforeRestore = acked.length
    await until(() => acked.length >= beforeRestore + 5)
    await relay.restore()
    await until(() => resumes.length >= 1)
    await shows(stream.length + 5)

    // 2. the process: killed mid-flow, a new one takes its place behind the relay
    a.child.kill('SIGKILL')
    await c.next('disconnected')
    const a2 = await startInstanceProcess(t, names)
    relay.target = a2.port
    await until(() => resumes.length >= 2 && (!resumes[1].gap || resumes[1].reloaded))
    await shows(stream.length + 5)

    clearInterval(timer)
    await Promise.all([...inFlight])
    const last = acked.reduce((x, m) => (compareOffsets(m.position!.offset, x.position!.offset) > 0 ? m : x))
    await until(() => stream.some((m) => m.id === last.id))

    t.ok(acked.length >= 15, `messages flowed (${acked.length} acknowledged)`)
    t.same(resumes[0], { gap: false, recovered: true, reloaded: false }, 'after the cut: recovered from the same instance, no reload')
    const restart = resumes[1]
    t.ok(restart.recovered !== restart.gap, `after the restart: recovered (${restart.recovered}) or a gap (${restart.gap}), not both or neither`)
    t.equal(restart.reloaded, restart.gap, 'a reload exactly when there was a gap')
    t.equal(resumes.length, 2, 'one resume per outage')
    t.same(errors, [], 'no reload_incomplete or other channel error')
    const expected = [...acked].sort((x, y) => compareOffsets(x.position!.offset, y.position!.offset)).map((m) => m.content)
    t.same(stream.map((m) => m.content), expected, 'every acknowledged message, once, in order')
  })
}
