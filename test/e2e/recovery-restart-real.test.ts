// A restarted instance recovers a resubscribing client from the shared recovery log before it has
// delivered anything (issue 24, item 3). Instance B, a process of its own, is SIGKILLed while a
// client follows a channel on it; messages are posted through A meanwhile; B restarts and nothing
// is posted after it. The client resubscribes to the new B with the last position it saw: it must
// get `recovered: true` and exactly what it missed, then live events with no gap or duplicate.
// B runs no workers, so A alone writes the shared log and the test can wait for it.
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { Client } from '../helper.ts'
import { buildReal, cleanupReal, handledLog, realNames, requireServices, startInstanceProcess, unique } from '../services.ts'
import type { Position } from '../../schemas/message.ts'

if (await requireServices(t, 'kafka', 'redis', 'mongo')) {
  t.test('a restarted instance with no traffic after it recovers a resubscribe from the shared log', async (t) => {
    const names = realNames('recovery-restart')
    t.teardown(() => cleanupReal(names))
    const a = await buildReal(t, { names, RATE_LIMIT_MAX: 0 })
    const logA = handledLog(a)
    const channel = unique('room')
    // message events (presence events of the channel carry no position)
    const isEvent = (f: Record<string, any>) => f.op === 'event' && f.channel === channel && f.position !== undefined
    const post = async (app: FastifyInstance, content: string): Promise<{ position: Position }> => {
      const res = await app.inject({ method: 'POST', url: '/api/messages', payload: { channelId: channel, content, senderId: 'alice' } })
      t.equal(res.statusCode, 201, `posted ${content}`)
      return res.json()
    }
    const connect = async (port: number) => {
      const client = await Client.connect(`ws://127.0.0.1:${port}/ws?user=reader`)
      t.teardown(() => client.close())
      await client.next((f) => f.op === 'ready')
      return client
    }

    const b = await startInstanceProcess(t, names, { ROLES: 'api,fanout' })
    const before = await connect(b.port)
    t.match(await before.subscribe(channel), { op: 'subscribed', recovered: false })
    for (let i = 1; i <= 5; i++) await post(a, `m${i}`)
    let since: Position | undefined
    for (let i = 1; i <= 5; i++) since = (await before.next(isEvent)).position as Position

    const exited = new Promise((resolve) => b.child.once('exit', resolve))
    b.child.kill('SIGKILL')
    await exited
    const missed = []
    for (let i = 6; i <= 10; i++) missed.push(await post(a, `m${i}`))
    await logA.handled('messages-recovery', missed[4].position)

    // The new B has delivered nothing: its buffer knows no partition, its consumer starts at the log's end.
    const b2 = await startInstanceProcess(t, names, { ROLES: 'api,fanout' })
    const back = await connect(b2.port)
    t.same(await back.subscribe(channel, since), { op: 'subscribed', channel, position: missed[4].position, recovered: true }, 'recovered, standing at the last missed event')
    await post(a, 'm11')
    await back.next((f) => isEvent(f) && f.data.content === 'm11')
    t.same(back.frames.filter(isEvent).map((f) => f.data.content), ['m6', 'm7', 'm8', 'm9', 'm10', 'm11'], 'the missed events from the log, then live: no gap, no duplicate')
    t.same(back.frames.filter(isEvent).slice(0, 5).map((f) => f.position), missed.map((m) => m.position), 'at their positions')
  })
}
