// kafkajs 2.2.4's request queue re-arms a 1 ms timer forever on an idle connection (kafkajs#1556):
// the patch schedules a check only when a request waits or a throttle is to end. It also looks for
// timed-out requests every tenth of the timeout instead of every 100 ms. A consumer group given a
// consume linger asks the broker, after a fetch that brought records, to gather a larger batch. A
// fetch that sleeps because every partition of its broker is paused wakes when one resumes.
import t from 'tap'
import { createRequire } from 'node:module'
import { ConsumerGroup, KAFKAJS_VERSION, LINGER_MIN_BYTES, RequestQueue, assertKafkajsVersion, lingerConsumerGroup, lingeringFetch, requestTimeoutCheckInterval } from '../../plugins/bus/kafkajs-patches.ts'

const require = createRequire(import.meta.url)

t.test('the patches are for the kafkajs installed: 2.2.4, pinned exactly', async (t) => {
  const installed = (require('kafkajs/package.json') as { version: string }).version
  t.equal(KAFKAJS_VERSION, '2.2.4', 'the release the patches were written against')
  t.equal(installed, KAFKAJS_VERSION, 'the installed kafkajs is that release')
  const pinned = (require('../../package.json') as { dependencies: Record<string, string> }).dependencies.kafkajs
  t.equal(pinned, KAFKAJS_VERSION, 'package.json pins it exactly (no range)')
  t.doesNotThrow(() => assertKafkajsVersion(installed))
})

t.test('another kafkajs is refused, with the versions and the reason', async (t) => {
  t.throws(() => assertKafkajsVersion('2.2.5'), /kafkajs 2\.2\.5 is installed, but switchboard requires kafkajs 2\.2\.4 exactly: .*private modules/)
  t.throws(() => assertKafkajsVersion('3.0.0'), /kafkajs 3\.0\.0 is installed/)
})

/** A queue in the state kafkajs leaves it in, with setTimeout observed. */
function queue (pending: unknown[], throttledUntil: number) {
  return Object.assign(Object.create(RequestQueue.prototype), { pending, throttledUntil, throttleCheckTimeoutId: null, checkPendingRequests () {} })
}

t.test('an idle, unthrottled connection arms no timer', async (t) => {
  const q = queue([], -1)
  q.scheduleCheckPendingRequests()
  t.equal(q.throttleCheckTimeoutId, null, 'nothing scheduled: no timer loop')
})

t.test('a waiting request or a throttle still gets its check', async (t) => {
  const waiting = queue([{}], -1)
  waiting.scheduleCheckPendingRequests()
  t.ok(waiting.throttleCheckTimeoutId, 'a pending request is checked again')
  clearTimeout(waiting.throttleCheckTimeoutId)
  const throttled = queue([], Date.now() + 60_000)
  throttled.scheduleCheckPendingRequests()
  t.ok(throttled.throttleCheckTimeoutId, 'the end of a throttle is checked')
  clearTimeout(throttled.throttleCheckTimeoutId)
})

t.test('timed-out requests are looked for every tenth of the timeout (not every 100 ms), and still found', async (t) => {
  t.equal(requestTimeoutCheckInterval(5000), 500, 'switchboard\'s 5 s request timeout: twice a second')
  t.equal(requestTimeoutCheckInterval(30_000), 1000, 'kafkajs\'s default 30 s: once a second at most')
  t.equal(requestTimeoutCheckInterval(300), 100, 'never more often than kafkajs did')
  // the interval it arms, observed in place of the real one
  const armed: Array<{ check: () => void, ms: number }> = []
  const realSetInterval = globalThis.setInterval
  globalThis.setInterval = ((check: () => void, ms: number) => { armed.push({ check, ms }); return 0 as unknown as NodeJS.Timeout }) as typeof setInterval
  t.teardown(() => { globalThis.setInterval = realSetInterval })
  const timedOut: string[] = []
  const request = (name: string, sentAgo: number) => ({ sentAt: Date.now() - sentAgo, requestTimeout: 5000, timeoutRequest () { timedOut.push(name) } })
  const q = Object.assign(Object.create(RequestQueue.prototype), {
    enforceRequestTimeout: true,
    requestTimeout: 5000,
    inflight: new Map([[1, request('stalled', 6000)], [2, request('recent', 100)]]),
    isConnected: () => true,
    destroy () {}
  })
  q.scheduleRequestTimeoutCheck()
  t.equal(armed.length, 1)
  t.equal(armed[0].ms, 500)
  armed[0].check()
  t.same(timedOut, ['stalled'], 'the request past its timeout fails, the recent one waits')
  RequestQueue.prototype.destroy.call(q)
})

t.test('one timer looks for timed-out requests on all the connections, and stops with the last', async (t) => {
  const armed: Array<{ check: () => void, ms: number, id: number }> = []
  const cleared: unknown[] = []
  const real = { setInterval: globalThis.setInterval, clearInterval: globalThis.clearInterval }
  globalThis.setInterval = ((check: () => void, ms: number) => { armed.push({ check, ms, id: armed.length + 1 }); return armed.length as unknown as NodeJS.Timeout }) as typeof setInterval
  globalThis.clearInterval = ((id: unknown) => { if (id !== undefined) cleared.push(id) }) as typeof clearInterval
  t.teardown(() => Object.assign(globalThis, real))
  const timedOut: string[] = []
  const connection = (name: string, connected = true) => {
    const request = (which: string, sentAgo: number) => ({ sentAt: Date.now() - sentAgo, requestTimeout: 5000, timeoutRequest () { timedOut.push(`${name} ${which}`) } })
    return Object.assign(Object.create(RequestQueue.prototype), {
      enforceRequestTimeout: true,
      requestTimeout: 5000,
      inflight: new Map([[1, request('stalled', 6000)], [2, request('recent', 100)]]),
      isConnected: () => connected,
      throttleCheckTimeoutId: null
    })
  }
  const [a, b] = [connection('a'), connection('b')]
  a.scheduleRequestTimeoutCheck()
  b.scheduleRequestTimeoutCheck()
  t.equal(armed.length, 1, 'two connections, one timer')
  armed[0].check()
  t.same(timedOut, ['a stalled', 'b stalled'], 'each connection\'s stalled request fails, the recent ones wait')
  a.destroy()
  t.same(cleared, [], 'the timer stays while a connection is watched')
  timedOut.length = 0
  b.inflight.delete(1)
  armed[0].check()
  t.same(timedOut, [], 'a destroyed connection is no longer looked at')
  b.destroy()
  t.same(cleared, [armed[0].id], 'the last connection gone, the timer stops')
  const lost = connection('lost', false)
  lost.scheduleRequestTimeoutCheck()
  t.equal(armed.length, 2, 'a new connection arms a new timer')
  armed[1].check()
  t.same(cleared, [armed[0].id, armed[1].id], 'a connection found disconnected is dropped, and with it the timer')
})

/**
 * A consumer group as kafkajs makes it (minBytes 1, a 3 s wait), whose fetch records what it would
 * ask the broker for and brings the batches it is told to.
 */
function group (groupId: string) {
  const asked: Array<{ minBytes: number, maxWaitTime: number }> = []
  const next: boolean[] = [] // whether each coming fetch brings records
  const fetch = lingeringFetch(async function (this: { minBytes: number, maxWaitTime: number }) {
    asked.push({ minBytes: this.minBytes, maxWaitTime: this.maxWaitTime })
    const records = next.shift() ?? false
    return [{ isEmpty: () => !records }, { isEmpty: () => true }]
  })
  const g = { groupId, minBytes: 1, maxWaitTime: 3000, fetch }
  return { g, asked, next }
}

t.test('the patched fetch is the lingering one', async (t) => {
  t.match(ConsumerGroup.prototype.fetch.toString(), /lingers\.get/, 'kafkajs\'s ConsumerGroup fetches through the linger')
})

t.test('a lingering group waits for company only after a fetch that brought records', async (t) => {
  const { g, asked, next } = group('shared-store')
  const release = lingerConsumerGroup('shared-store', 50)
  next.push(true, true, false, true)
  for (let i = 0; i < 5; i++) await g.fetch(0)
  const idle = { minBytes: 1, maxWaitTime: 3000 }
  const lingering = { minBytes: LINGER_MIN_BYTES, maxWaitTime: 50 }
  t.same(asked, [
    idle, // idle: the first record is answered at once
    lingering, // the last fetch brought records: gather up to 50 ms
    lingering,
    idle, // the last one came back empty: idle again, no added wait
    lingering
  ])
  release()
  await g.fetch(0)
  t.same(asked.at(-1), idle, 'once released, the group fetches as it was made to')
})

t.test('groups without a linger, or with 0, fetch as kafkajs made them', async (t) => {
  const broadcast = group('delivery')
  broadcast.next.push(true, true)
  await broadcast.g.fetch(0)
  await broadcast.g.fetch(0)
  t.same(broadcast.asked, [{ minBytes: 1, maxWaitTime: 3000 }, { minBytes: 1, maxWaitTime: 3000 }], 'never lingers')
  const off = group('off')
  lingerConsumerGroup('off', 0)()
  off.next.push(true, true)
  await off.g.fetch(0)
  await off.g.fetch(0)
  t.same(off.asked.at(-1), { minBytes: 1, maxWaitTime: 3000 }, 'KAFKA_CONSUME_LINGER_MS=0: never lingers')
})

t.test('the linger lasts while any consumer of the group in this process runs', async (t) => {
  const { g, asked, next } = group('two-members')
  const first = lingerConsumerGroup('two-members', 50)
  const second = lingerConsumerGroup('two-members', 50)
  first()
  first() // twice is once
  next.push(true, true)
  await g.fetch(0)
  await g.fetch(0)
  t.same(asked.at(-1), { minBytes: LINGER_MIN_BYTES, maxWaitTime: 50 }, 'the member still running lingers')
  second()
  await g.fetch(0)
  t.same(asked.at(-1), { minBytes: 1, maxWaitTime: 3000 }, 'the last one gone: none')
})

t.test('a fetch asleep because every partition of its broker is paused wakes when one resumes', async (t) => {
  const SubscriptionState = require('kafkajs/src/consumer/subscriptionState.js') as new () => object
  const subscriptionState = new SubscriptionState() as { assign (tp: unknown[]): void, pause (tp: unknown[]): void }
  subscriptionState.assign([{ topic: 'messages', partitions: [0, 1] }])
  subscriptionState.pause([{ topic: 'messages', partitions: [0, 1] }])
  const checked: string[] = []
  const g = Object.assign(Object.create(ConsumerGroup.prototype), {
    groupId: 'asleep',
    minBytes: 1,
    maxWaitTime: 3_600_000, // kafkajs would sleep an hour: only the wake ends this fetch in the test's time
    subscriptionState,
    cluster: { async refreshMetadataIfNecessary () { checked.push('metadata') } },
    filterPartitionsByNode: (_node: number, tp: unknown[]) => tp, // one broker holds both
    checkForStaleAssignment () { checked.push('assignment') },
    // kafkajs commits the seeks made while paused here (admin.resetOffsets pauses everything and seeks)
    async seekOffsets (tp: Array<{ topic: string, partitions: number[] }>) { checked.push(`seeks ${tp.map((t) => `${t.topic}/${t.partitions.join(',')}`).join(' ')}`) },
    logger: { info () {}, debug () {}, warn () {}, error () {} }
  })
  let done = false
  const fetching = (g.fetch(0) as Promise<unknown[]>).then((batches) => { done = true; return batches })
  await new Promise((resolve) => setImmediate(resolve))
  t.equal(done, false, 'asleep while every partition is paused')
  t.same(checked, ['metadata', 'assignment', 'seeks messages/0,1'], 'after the checks and the seeks kafkajs makes before it sleeps')
  g.resume([{ topic: 'messages', partitions: [1] }])
  t.same(await fetching, [], 'woken by the resume, with nothing fetched: the next fetch asks for the resumed partition')
})
