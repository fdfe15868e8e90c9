// Failover 3 (issue 25, item 4): a reconnect storm. Two instances, A in this process (every role)
// and B a process of its own (api, fanout); 200 clients built on @switchboard/client with both
// URLs, half of them on each; posts at about 100/s through A. B is SIGKILLed: its clients
// reconnect to A (the next URL of their list) and resubscribe with `since`. Every acknowledged
// message reaches every client of its channel exactly once and in order, by recovery or by
// `recovered: false` and a history reload (reload mode). On the survivor, reads of one channel's
// recovery log and history are single-flight: concurrent identical reads are one read (counted).
// No time is asserted: kill → live again per client (p50, p99) and the survivor's delivery p99 for
// its own clients during the storm are printed.
import t from 'tap'
import WebSocket from 'ws'
import { createClient, type HistoryMessage, type SwitchboardClient } from '../../client/src/index.ts'
import { compareOffsets } from '../../client/src/position.ts'
import { listen } from '../client/harness.ts'
import { buildReal, realNames, startInstanceProcess } from '../services.ts'
import { clusterNodes } from '../cluster/cluster.ts'
import type { Position } from '../../schemas/message.ts'
import { cleanupFailover, clusterEnv, conditions, quantile, requireFailoverCluster } from './failover.ts'

const CHANNELS = 10
const CLIENTS = 200
const POST_EVERY_MS = 10
const BEFORE_KILL = 200
const AFTER_LIVE = 200
/** the survivor's buffer holds fewer events per channel than a storm's gap: resubscribes read the shared log */
const RECOVERY_BUFFER = 2

if (await requireFailoverCluster(t)) {
  t.test('SIGKILL an instance holding half of the clients while messages flow: they reconnect to the other, each gets every acknowledged message once, in order', async (t) => {
    const names = realNames('failover-storm')
    t.teardown(() => cleanupFailover(names))
    const a = await buildReal(t, { names, ...clusterEnv(names), RATE_LIMIT_MAX: 0, RECOVERY_BUFFER })
    const aUrls = await listen(a)
    const b = await startInstanceProcess(t, names, { ROLES: 'api,fanout', RATE_LIMIT_MAX: '0', REDIS_URL: '', REDIS_CLUSTER_NODES: clusterNodes })
    const endpoints = [aUrls.ws, `ws://127.0.0.1:${b.port}/ws`]
    const { changed, until } = conditions()
    const sentAt = new Map<string, number>()
    let killedAt = Infinity

    // The clients: each lists both instances and starts on A (even) or B (odd); the next attempt
    // takes the other one. Each shows its channel as an app would: a reload replaces what it covers.
    interface Viewer { c: SwitchboardClient, channel: string, onB: boolean, stream: HistoryMessage[], duplicates: string[], resumes: Array<{ recovered: boolean }>, liveAgainAt?: number, latencies: Array<{ at: number, ms: number }> }
    const viewers: Viewer[] = []
    for (let i = 0; i < CLIENTS; i++) {
      let first = true
      const random = () => { if (first) { first = false; return i % 2 ? 0.75 : 0.25 } return Math.random() }
      const c = createClient({ url: endpoints, api: aUrls.api, user: { id: `u${i}` }, reload: true, WebSocket, random })
      t.teardown(() => c.close())
      const v: Viewer = { c, channel: `room-${i % CHANNELS}`, onB: i % 2 === 1, stream: [], duplicates: [], resumes: [], latencies: [] }
      const room = c.channel(v.channel, { historyLimit: 100 })
      let gap = false
      room.on('gap', () => { gap = true })
      room.on('subscribed', (s) => {
        if (!s.resumed) return
        v.resumes.push({ recovered: s.recovered })
        if (!gap) v.liveAgainAt ??= Date.now() // a replay came before this answer: live now
        changed()
      })
      room.on('reload', (page) => {
        const oldest = page.messages.at(-1)?.position
        v.stream = [...(oldest ? v.stream.filter((m) => compareOffsets(m.position!.offset, oldest.offset) < 0) : v.stream), ...[...page.messages].reverse()]
        if (gap) { gap = false; v.liveAgainAt ??= Date.now() }
        changed()
      })
      room.on('message.created', ({ data }) => {
        if (v.stream.some((m) => m.id === data.id)) v.duplicates.push(data.content)
        v.stream.push(data)
        const sent = sentAt.get(data.content)
        if (sent !== undefined && !v.onB) v.latencies.push({ at: Date.now(), ms: Date.now() - sent })
        changed()
      })
      viewers.push(v)
    }
    // Every client subscribed (its first reload done) before anything is posted.
    await Promise.all(viewers.map((v) => v.c.channels.get(v.channel)!.next('reload')))

    const acked: Array<{ content: string, channel: string, position: Position }> = []
    const statuses: Record<string, number> = {}
    const inFlight = new Set<Promise<void>>()
    let n = 0
    const post = () => {
      const content = `m${++n}`
      const channel = `room-${n % CHANNELS}`
      sentAt.set(content, Date.now())
      const p = a.inject({ method: 'POST', url: '/api/messages', headers: { 'x-user-id': 'poster' }, payload: { channelId: channel, content, nonce: content } })
        .then((res) => {
          statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1
          if (res.statusCode === 201) acked.push({ content, channel, position: res.json().position })
        }, () => { statuses.error = (statuses.error ?? 0) + 1 })
        .finally(() => { inFlight.delete(p); changed() })
      inFlight.add(p)
    }
    const timer = setInterval(post, POST_EVERY_MS)
    t.teardown(() => clearInterval(timer))
    await until(() => acked.length >= BEFORE_KILL)

    // Reads of the shared log and of history pages on the survivor, counted from here.
    const counts = { logReads: 0, pageReads: 0 }
    const needingLog = a.recovery.stats.sharedLogReads
    const { log } = a.recovery
    const read = log.read.bind(log)
    log.read = (...args) => { counts.logReads++; return read(...args) }
    const recover = a.recovery.recover
    const page = a.cache.page.bind(a.cache)
    a.cache.page = (...args) => { counts.pageReads++; return page(...args) }

    const exited = new Promise((resolve) => b.child.once('exit', resolve))
    b.child.kill('SIGKILL')
    killedAt = Date.now()
    await exited
    const moved = viewers.filter((v) => v.onB)
    await until(() => moved.every((v) => v.liveAgainAt !== undefined))
    const allLiveAt = Date.now()
    const stormCounts = { ...counts, needingLog: a.recovery.stats.sharedLogReads - needingLog, recovered: moved.filter((v) => v.resumes[0]?.recovered).length }
    const live = acked.length
    await until(() => acked.length >= live + AFTER_LIVE)
    clearInterval(timer)
    await Promise.all([...inFlight])

    // Every acknowledged message, once and in order, on every client of its channel.
    const expected = new Map<string, string[]>()
    for (const m of [...acked].sort((x, y) => compareOffsets(x.position.offset, y.position.offset))) expected.set(m.channel, [...(expected.get(m.channel) ?? []), m.content])
    const shows = (v: Viewer) => v.stream.flatMap((m) => m.content !== undefined && sentAt.has(m.content) ? [m.content] : [])
    await until(() => viewers.every((v) => shows(v).length >= (expected.get(v.channel) ?? []).length))
    t.same(Object.keys(statuses).filter((s) => s !== '201'), [], `every post through the survivor acknowledged (${JSON.stringify(statuses)})`)
    t.same(viewers.flatMap((v) => v.duplicates), [], 'no client got a message twice')
    const wrong = viewers.filter((v) => JSON.stringify(shows(v)) !== JSON.stringify(expected.get(v.channel) ?? []))
    t.same(wrong.map((v) => v.c.user), [], `every client shows every acknowledged message of its channel (${acked.length} in all), once, in order`)
    t.ok(moved.every((v) => v.resumes.length === 1), `each of B's ${moved.length} clients resubscribed once, on A`)
    t.ok(viewers.filter((v) => !v.onB).every((v) => v.resumes.length === 0), 'A\'s clients never reconnected')

    // Single-flight on the survivor: concurrent identical reads are one read.
    const oldest = acked.find((m) => m.channel === 'room-0')!.position
    const logBefore = counts.logReads
    const answers = await Promise.all(Array.from({ length: 20 }, () => recover('room-0', oldest)))
    t.equal(counts.logReads - logBefore, 1, '20 concurrent resubscribes of one channel from one position: one read of the shared log')
    t.ok(answers.every((r) => JSON.stringify(r) === JSON.stringify(answers[0])), 'all of them get the same answer')
    const pagesBefore = counts.pageReads
    const pages = await Promise.all(Array.from({ length: 20 }, () => a.inject({ url: '/api/channels/room-0/messages?limit=100', headers: { 'x-user-id': 'reader' } })))
    t.equal(counts.pageReads - pagesBefore, 1, '20 concurrent reads of one history page: one read')
    t.ok(pages.every((p) => p.statusCode === 200 && p.body === pages[0].body), 'all of them get the same page')

    const ttl = moved.map((v) => v.liveAgainAt! - killedAt)
    const during = viewers.filter((v) => !v.onB).flatMap((v) => v.latencies.filter((l) => l.at >= killedAt && l.at <= allLiveAt).map((l) => l.ms))
    const overall = viewers.filter((v) => !v.onB).flatMap((v) => v.latencies.map((l) => l.ms))
    t.comment(`storm: ${moved.length} clients moved to A; kill → live again p50 ${quantile(ttl, 0.5)} ms, p99 ${quantile(ttl, 0.99)} ms, max ${Math.max(...ttl)} ms; ${stormCounts.recovered} recovered, ${moved.length - stormCounts.recovered} reloaded after recovered: false`)
    t.comment(`survivor's own clients: delivery p99 ${quantile(during, 0.99)} ms during the storm (${during.length} deliveries), ${quantile(overall, 0.99)} ms over the run; during the storm ${stormCounts.needingLog} resubscribes needed the shared log: ${stormCounts.logReads} reads of it; ${stormCounts.pageReads} history page reads`)
  })
}
