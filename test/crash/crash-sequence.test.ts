// The crash sequence of issue 24 (items 1 and 4), on real services that this test SIGKILLs: it runs
// in its own serial step (`npm run test:crash`, never beside the parallel suite) against whatever
// set of services the environment points at (KAFKA_BROKERS, REDIS_URL, MONGO_URL, and for
// scripts/services.sh its overrides: SWITCHBOARD_SERVICES_STATE, REDIS_PORT, KAFKA_PORT, …).
//
// Two instances: A in this process runs every role (the shared handlers too, so the test can wait
// for their events), B is a process of its own (api, fanout) that is SIGKILLed and restarted. A
// subscriber on each; posts alternate between them. Redis, Kafka and the store are SIGKILLed in
// turn and restarted on their data; after each, live delivery must be back: the live frame of a
// post made after the service returned reaches both subscribers without a resubscribe. Then B is
// SIGKILLed, fewer than RECOVERY_LOG messages are posted, B restarts, and its subscriber resubscribes
// with the last position it saw: `recovered: true`. At the end every acknowledged message is in
// history once, and each subscriber got each one once, live or by recovery.
//
// Right after Kafka's return (item 2), a fresh instance process is started: it must start (its
// /ready answers 200) rather than hang on the broker that is back; if it gives up, its error must
// name the step it waited for. The figures printed (t.comment) are the crash benchmark's, never
// asserted: after each return, the time to the first acknowledged post, and from each post's 201
// to its live frame on each subscriber (item 1: on the other instance within a second).
import t, { type Test } from 'tap'
import { execFile } from 'node:child_process'
import net from 'node:net'
import { performance } from 'node:perf_hooks'
import { promisify } from 'node:util'
import { fileURLToPath } from 'node:url'
import { Client } from '../helper.ts'
import { buildReal, cleanupReal, handledLog, realNames, requireServices, services, startInstanceProcess, type Service } from '../services.ts'
import type { Position } from '../../schemas/message.ts'

const run = promisify(execFile)
const script = fileURLToPath(new URL('../../scripts/services.sh', import.meta.url))
const servicesSh = async (...args: string[]) => (await run(script, args, { env: process.env })).stdout
const CHANNEL = 'crash'
/** Messages posted while B is down: fewer than RECOVERY_LOG (200), so the shared log covers them. */
const WHILE_B_IS_DOWN = 20

const freePort = () => new Promise<number>((resolve) => {
  const server = net.createServer().listen(0, '127.0.0.1', () => {
    const { port } = server.address() as net.AddressInfo
    server.close(() => resolve(port))
  })
})

if (await requireServices(t, 'kafka', 'redis', 'mongo')) {
  t.test('SIGKILL Redis, Kafka, the store, then an instance: live delivery comes back after each, the restarted instance recovers, nothing lost or doubled', async (t) => {
    // The services this test kills must be those the apps use: services.sh names them with the same overrides.
    const env = await servicesSh('env')
    for (const service of ['kafka', 'redis', 'mongo'] as Service[]) {
      t.ok(env.includes(services[service]), `scripts/services.sh manages the ${service} at ${services[service]}`)
    }
    if (t.counts.fail) return

    const names = realNames('crash')
    t.teardown(() => cleanupReal(names))
    const a = await buildReal(t, { names, RATE_LIMIT_MAX: 0 })
    const workers = handledLog(a)
    const bApi = await freePort()
    let b = await startInstanceProcess(t, names, { ROLES: 'api,fanout', PORT: String(bApi), RATE_LIMIT_MAX: '0' })

    const isMessage = (f: Record<string, any>) => f.op === 'event' && f.channel === CHANNEL && f.type === 'message.created'
    /** When each message's event frame reached each subscriber (performance.now(), as the frame came). */
    const frameAt = new Map<Client, Map<string, number>>()
    const connect = async (port: number) => {
      const client = await Client.connect(`ws://127.0.0.1:${port}/ws?user=reader`)
      t.teardown(() => client.close())
      const at = new Map<string, number>()
      frameAt.set(client, at)
      client.ws.on('message', (data) => {
        const frame = JSON.parse(data.toString())
        if (isMessage(frame)) at.set(frame.data.content, performance.now())
      })
      await client.next((f) => f.op === 'ready')
      return client
    }
    /** Resolves once `client` has the message event of `content` (whenever it came). */
    const arrived = (client: Client, content: string) => new Promise<void>((resolve) => {
      const check = () => {
        if (!client.frames.some((f) => isMessage(f) && f.data.content === content)) return
        client.ws.off('message', check)
        resolve()
      }
      client.ws.on('message', check)
      check()
    })
    const sA = await connect(a.fanout.uwsPort)
    let sB = await connect(b.port)
    const firstB = sB
    t.match(await sA.subscribe(CHANNEL), { op: 'subscribed' })
    t.match(await sB.subscribe(CHANNEL), { op: 'subscribed' })

    // Posting: each post carries a nonce, so a retry can never make a second message.
    const acked: Array<{ content: string, position: Position }> = []
    /** When each acknowledged post got its 201 (performance.now()). */
    const ackedAt = new Map<string, number>()
    let n = 0
    const postOnce = async (via: 'A' | 'B', content: string): Promise<{ status: number, body?: any }> => {
      const payload = { channelId: CHANNEL, content, nonce: content }
      if (via === 'A') {
        const res = await a.inject({ method: 'POST', url: '/api/messages', headers: { 'x-user-id': 'poster' }, payload })
        return { status: res.statusCode, body: res.json() }
      }
      try {
        const res = await fetch(`http://127.0.0.1:${bApi}/api/messages`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-user-id': 'poster' }, body: JSON.stringify(payload) })
        return { status: res.status, body: await res.json() }
      } catch {
        return { status: 0 } // B is down
      }
    }
    /** One post, whatever it answers (during an outage: 201 or 503); acknowledged ones are kept. */
    const post = async (via: 'A' | 'B') => {
      const content = `${via}-${++n}`
      const res = await postOnce(via, content)
      if (res.status === 201) acked.push({ content, position: res.body.position })
      return { content, status: res.status }
    }
    /** Asks the instance whether it is ready: its checks answer once they have asked Kafka, Redis and the store. */
    const readyOf = async (via: 'A' | 'B') => {
      if (via === 'A') return (await a.inject('/ready')).statusCode
      try { return (await fetch(`http://127.0.0.1:${bApi}/ready`)).status } catch { return 0 }
    }
    /** A post retried until it is acknowledged: before each retry, the instance is asked whether it is ready (no timer). */
    const postAccepted = async (via: 'A' | 'B') => {
      const content = `${via}-${++n}`
      for (let attempt = 1; ; attempt++) {
        const res = await postOnce(via, content)
        if (res.status === 201) {
          ackedAt.set(content, performance.now())
          acked.push({ content, position: res.body.position })
          return content
        }
        if (attempt === 100) throw new Error(`post ${content} through ${via} not accepted after ${attempt} attempts (last: ${res.status})`)
        await readyOf(via)
      }
    }
    /**
     * A post through each instance (A first) reaches both subscribers live, without a resubscribe.
     * Prints, from `since` (performance.now() when the service returned), the time to each post's
     * 201, and from each 201 to its live frame on each subscriber; returns the figures of the first
     * acknowledged post: its 201, and its live frame on the other instance's subscriber (B's).
     */
    const liveAgain = async (t: Test, since: number, what: string) => {
      const figures: string[] = []
      const ms = (from: number, to: number) => `${Math.round(to - from)} ms`
      let first: { acked: number, otherLive: number } | undefined
      for (const via of ['A', 'B'] as const) {
        const content = await postAccepted(via)
        const acked = ackedAt.get(content)!
        await Promise.all([sA, sB].map(async (s) => {
          await arrived(s, content)
          t.pass(`${what}: ${content}, posted through ${via}, reached the subscriber on ${s === sA ? 'A' : 'B'} live`)
        }))
        const live = (s: Client) => frameAt.get(s)!.get(content)!
        figures.push(`${via}: 201 at ${ms(since, acked)}, live on A ${ms(acked, live(sA))} and on B ${ms(acked, live(sB))} after it`)
        first ??= { acked: acked - since, otherLive: live(sB) - acked }
      }
      t.comment(`${what}: from the return, ${figures.join('; ')}`)
      return first!
    }

    for (let i = 0; i < 4; i++) await postAccepted(i % 2 ? 'B' : 'A')
    await liveAgain(t, performance.now(), 'before any crash')

    /**
     * Starts a fresh instance process (every role, as a deployment starts one) and resolves once it
     * has started and its /ready answers 200; stops it (SIGTERM: it leaves the shared groups, which
     * A then holds alone again). If it cannot start, the failure shows the error it gave up with.
     */
    const freshInstance = async (t: Test, since: number) => {
      const api = await freePort()
      const fresh = await startInstanceProcess(t, names, { PORT: String(api), RATE_LIMIT_MAX: '0' }).then((c) => c, (err: Error) => err)
      if (fresh instanceof Error) {
        t.fail(`a fresh instance started right after Kafka's return did not start: ${fresh.message}`)
        t.match(fresh.message, /start-up gave up waiting for \S/, 'and its error names the step it waited for (SB_START_UP_TIMEOUT)')
        return
      }
      const started = performance.now()
      const ready = await fetch(`http://127.0.0.1:${api}/ready`)
      t.equal(ready.status, 200, `a fresh instance started right after Kafka's return starts: /ready answers 200 (${await ready.text()})`)
      t.comment(`after kafka came back: a fresh instance started ${Math.round(started - since)} ms after the return`)
      const exited = new Promise((resolve) => fresh.child.once('exit', resolve))
      fresh.child.kill('SIGTERM')
      await exited
    }

    for (const service of ['redis', 'kafka', 'mongo'] as const) {
      await t.test(`SIGKILL ${service}, then up on its data`, async (t) => {
        await servicesSh('kill', service)
        const during = [await post('A'), await post('B')]
        console.log(`# while ${service} is down: ${during.map((p) => `${p.content} ${p.status}`).join(', ')}`)
        await servicesSh('up', service)
        const returned = performance.now()
        // item 2: an instance started within seconds of Kafka's restart (beside the posts below)
        const starting = service === 'kafka' ? freshInstance(t, returned) : undefined
        const first = await liveAgain(t, returned, `after ${service} came back`)
        // item 1: live delivery resumes with the first acknowledged post, on the other instance too
        t.comment(`after ${service} came back: the first post was acknowledged (201 through A) ${Math.round(first.acked)} ms after the return; its live frame reached B's subscriber ${Math.round(first.otherLive)} ms after that 201`)
        await starting
      })
    }

    await t.test('SIGKILL instance B, post while it is down, restart it: its subscriber recovers', async (t) => {
      const since = sB.frames.filter(isMessage).at(-1)!.position as Position
      const exited = new Promise((resolve) => b.child.once('exit', resolve))
      b.child.kill('SIGKILL')
      await exited
      const missed: string[] = []
      for (let i = 0; i < WHILE_B_IS_DOWN; i++) missed.push(await postAccepted('A'))
      // the shared recovery log has them (A runs the shared handlers): what a restarted B answers from
      await workers.handled('messages-recovery', acked.at(-1)!.position)
      b = await startInstanceProcess(t, names, { ROLES: 'api,fanout', PORT: String(bApi), RATE_LIMIT_MAX: '0' })
      sB = await connect(b.port)
      const subscribed = await sB.subscribe(CHANNEL, since)
      t.match(subscribed, { op: 'subscribed', recovered: true }, 'recovered: true on the restarted instance')
      await arrived(sB, missed.at(-1)!)
      t.same(sB.frames.filter(isMessage).map((f) => f.data.content), acked.filter((m) => BigInt(m.position.offset) > BigInt(since.offset)).map((m) => m.content), 'replayed: exactly what it missed')
      await liveAgain(t, performance.now(), 'after instance B restarted')
    })

    // Every acknowledged message: in history once, and to each subscriber once (live or recovered).
    const last = acked.at(-1)!.position
    await Promise.all(['messages-store', 'messages-cache'].map((h) => workers.handled(h, last)))
    const history = (await a.inject({ url: `/api/channels/${CHANNEL}/messages?limit=100`, headers: { 'x-user-id': 'reader' } })).json().messages as Array<{ content: string }>
    const contents = acked.map((m) => m.content).sort()
    t.same(history.map((m) => m.content).filter((c) => contents.includes(c)).sort(), contents, `every acknowledged message (${acked.length}) in history once`)
    const received = (...clients: Client[]) => clients.flatMap((c) => c.frames.filter(isMessage).map((f) => f.data.content as string)).filter((c) => contents.includes(c)).sort()
    t.same(received(sA), contents, 'subscriber on A: each once, live')
    t.same(received(firstB, sB), contents, 'subscriber on B: each once, live before B was killed, then recovered or live')
  })
}
