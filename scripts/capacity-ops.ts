// Counts what one posted message costs Redis and each role (docs/scaling.md, "Capacity model"): two
// instances, ROLES=api,fanout and ROLES=workers, on Kafka and MongoDB (names of their own) and on a
// private redis-server started here, so that Redis's INFO commandstats counts their commands only.
// One socket per channel subscribes, an idle window is counted, then MESSAGES posts at a low rate
// over CHANNELS channels; once the store holds them all (and the cache and recovery log have had a
// moment), commands and CPU (/proc utime + stime; Redis's INFO cpu) are counted again, the idle
// rate subtracted. A micro-measurement, not a load test: a few hundred posts.
//   npx tsx scripts/capacity-ops.ts [--messages 600] [--channels 60] [--rate 100]
// Needs KAFKA_BROKERS and MONGO_URL (scripts/services.sh), and redis-server on the PATH.
import { spawn, type ChildProcess } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { Kafka, logLevel } from 'kafkajs'
import { Redis } from 'ioredis'
import { MongoClient } from 'mongodb'
import WebSocket from 'ws'
import { parseProcStat } from './bench/centrifugo.ts'

const { values } = parseArgs({ options: { messages: { type: 'string', default: '600' }, channels: { type: 'string', default: '60' }, rate: { type: 'string', default: '100' } } })
const MESSAGES = Number(values.messages)
const CHANNELS = Number(values.channels)
const RATE = Number(values.rate)
const SOCKETS_PER_CHANNEL = 1
const root = fileURLToPath(new URL('..', import.meta.url))
for (const name of ['KAFKA_BROKERS', 'MONGO_URL']) if (!process.env[name]) throw new Error(`${name} is not set (scripts/services.sh up prints it)`)

const freePort = () => new Promise<number>((resolve, reject) => {
  const server = createServer().listen(0, '127.0.0.1', () => { const { port } = server.address() as { port: number }; server.close(() => resolve(port)) }).on('error', reject)
})
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

const id = `capacity-${randomUUID().slice(0, 8)}`
const redisPort = await freePort()
const env = {
  KAFKA_BROKERS: process.env.KAFKA_BROKERS!,
  REDIS_URL: `redis://127.0.0.1:${redisPort}`,
  MONGO_URL: process.env.MONGO_URL!,
  KAFKA_TOPIC_PREFIX: `${id}.`,
  REDIS_KEY_PREFIX: `${id}:`,
  MONGO_DB: id.replace(/-/g, '_'),
  RATE_LIMIT_MAX: '0',
  PORT: '0',
  WS_PORT: '0',
  LOG_LEVEL: 'info'
}

const children: ChildProcess[] = []
// Stopped early (Ctrl-C, a timeout): the instances and redis-server go too.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => { for (const child of children) child.kill('SIGTERM'); process.exit(130) })
/** A private redis-server: no persistence, gone with this script. */
async function startRedis (): Promise<Redis> {
  const child = spawn('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'inherit'] })
  children.push(child)
  await new Promise<void>((resolve, reject) => {
    child.once('close', (code) => reject(new Error(`redis-server exited (${code})`)))
    createInterface({ input: child.stdout! }).on('line', (line) => { if (line.includes('Ready to accept connections')) resolve() })
  })
  return new Redis({ port: redisPort })
}

/** server.ts with these roles; resolves once ready, with its ports and pid. */
function startInstance (roles: string): Promise<{ apiPort: number, wsPort: number, pid: number }> {
  const child = spawn(process.execPath, ['--import=tsx', 'server.ts'], { cwd: root, env: { PATH: process.env.PATH, ...env, ROLES: roles, INSTANCE_ID: `${id}-${roles.replace(',', '-')}` }, stdio: ['ignore', 'pipe', 'inherit'] })
  children.push(child)
  let apiPort = 0
  let wsPort = 0
  return new Promise((resolve, reject) => {
    child.once('close', (code) => reject(new Error(`instance exited (${code}) before it was ready`)))
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const entry = (() => { try { return JSON.parse(line) } catch { return {} } })()
      if (entry.component === 'fanout' && typeof entry.port === 'number') wsPort = entry.port
      const listening = typeof entry.msg === 'string' && /Server listening at http:\/\/[^ ]+:(\d+)$/.exec(entry.msg)
      if (listening) apiPort = Number(listening[1])
      if (typeof entry.msg === 'string' && entry.msg.startsWith('switchboard ready')) resolve({ apiPort, wsPort, pid: child.pid! })
    })
  })
}

/** Calls per command (INFO commandstats), scripts' inner commands included. */
async function commandCounts (redis: Redis): Promise<Map<string, number>> {
  const counts = new Map<string, number>()
  for (const line of (await redis.info('commandstats')).split('\n')) {
    const match = /^cmdstat_([^:]+):calls=(\d+)/.exec(line.trim())
    if (match) counts.set(match[1], Number(match[2]))
  }
  return counts
}
/** CPU seconds of Redis's main thread (user + system), from INFO cpu. */
async function redisCpu (redis: Redis): Promise<number> {
  const info = await redis.info('cpu')
  const field = (name: string) => Number(new RegExp(`^${name}:([0-9.]+)`, 'm').exec(info)?.[1] ?? NaN)
  return field('used_cpu_user_main_thread') + field('used_cpu_sys_main_thread')
}
/** CPU seconds of a process (utime + stime; clock ticks of 1/100 s). */
const processCpu = (pid: number) => { const { userTicks, systemTicks } = parseProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8')); return (userTicks + systemTicks) / 100 }
const minus = (after: Map<string, number>, before: Map<string, number>) =>
  new Map([...after].map(([name, n]) => [name, n - (before.get(name) ?? 0)] as const).filter(([, n]) => n > 0))

const mongo = new MongoClient(env.MONGO_URL, { serverSelectionTimeoutMS: 5000 })
let redis: Redis | undefined
try {
  redis = await startRedis()
  const [front, workers] = await Promise.all([startInstance('api,fanout'), startInstance('workers')])
  const { apiPort, wsPort } = front
  const cpuOf = () => [processCpu(front.pid), processCpu(workers.pid)]
  const channels = Array.from({ length: CHANNELS }, (_v, i) => `cap-${i}`)
  const sockets = await Promise.all(Array.from({ length: CHANNELS * SOCKETS_PER_CHANNEL }, async (_v, i) => {
    const ws = new WebSocket(`ws://127.0.0.1:${wsPort}/ws`)
    await new Promise<void>((resolve, reject) => {
      ws.on('error', reject)
      ws.on('message', (data) => {
        const frame = JSON.parse(String(data)) as { op: string }
        if (frame.op === 'ready') ws.send(JSON.stringify({ op: 'subscribe', channel: channels[i % CHANNELS] }))
        else if (frame.op === 'subscribed') resolve()
      })
    })
    return ws
  }))
  const seconds = MESSAGES / RATE
  // the idle commands of the same instance over as long a window (heartbeats, registry)
  await sleep(2000)
  const idleFrom = await commandCounts(redis)
  const idleCpuFrom = await redisCpu(redis)
  const idleRolesFrom = cpuOf()
  await sleep(seconds * 1000)
  const idleCpu = await redisCpu(redis) - idleCpuFrom
  const idleRoles = cpuOf().map((cpu, i) => cpu - idleRolesFrom[i])
  const idle = minus(await commandCounts(redis), idleFrom)

  const from = await commandCounts(redis)
  const cpuFrom = await redisCpu(redis)
  const rolesFrom = cpuOf()
  const started = performance.now()
  const url = `http://127.0.0.1:${apiPort}/api/messages`
  let accepted = 0
  let recordBytes = 0
  const posts: Array<Promise<void>> = []
  for (let n = 0; n < MESSAGES; n++) {
    const channelId = channels[n % CHANNELS]
    posts.push(fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ channelId, content: 'x'.repeat(64), senderId: 'capacity' }) })
      .then(async (res) => {
        if (res.status !== 201) throw new Error(`post answered ${res.status}: ${await res.text()}`)
        const { position: _p, ...message } = await res.json() as Record<string, unknown>
        accepted++
        // the record's value as plugins/posting.ts builds it (key: the channel id)
        recordBytes += Buffer.byteLength(JSON.stringify({ v: 1, type: 'message.created', channelId, at: message.createdAt, data: message })) + Buffer.byteLength(channelId)
      }))
    await sleep(1000 / RATE)
  }
  await Promise.all(posts)
  const stored = mongo.db(env.MONGO_DB).collection('messages')
  while (await stored.countDocuments() < MESSAGES) await sleep(200)
  await sleep(2000) // the cache and recovery log's consumer group runs beside the store's
  const posting = minus(await commandCounts(redis), from)
  const windowSeconds = (performance.now() - started) / 1000
  // the idle rate over the posting window (which is longer than the idle one: the store's wait, 2 s)
  const postingCpu = await redisCpu(redis) - cpuFrom - idleCpu * windowSeconds / seconds
  const rolesCpu = cpuOf().map((cpu, i) => cpu - rolesFrom[i] - idleRoles[i] * windowSeconds / seconds)
  for (const ws of sockets) ws.close()

  console.log(`${accepted} posts over ${CHANNELS} channels at ${RATE}/s, ${CHANNELS * SOCKETS_PER_CHANNEL} sockets; record ${(recordBytes / accepted).toFixed(0)} bytes (value + key)`)
  console.log(`Redis command       calls   idle (${seconds} s)   per message: (calls − idle over the ${windowSeconds.toFixed(1)} s window) / posts`)
  let total = 0
  for (const [name, calls] of [...posting].sort((a, b) => b[1] - a[1])) {
    const perMessage = (calls - (idle.get(name) ?? 0) * windowSeconds / seconds) / accepted
    total += perMessage
    console.log(`${name.padEnd(18)} ${String(calls).padStart(7)}   ${String(idle.get(name) ?? 0).padStart(8)}   ${perMessage.toFixed(2).padStart(8)}`)
  }
  console.log(`total per message: ${total.toFixed(2)} commands (scripts' inner commands counted too)`)
  console.log(`CPU per message: api,fanout ${(rolesCpu[0] * 1e6 / accepted).toFixed(0)} µs (with ${SOCKETS_PER_CHANNEL} delivery each), workers ${(rolesCpu[1] * 1e6 / accepted).toFixed(0)} µs (idle subtracted: ${(idleRoles[0] * 1e3 / seconds).toFixed(1)} and ${(idleRoles[1] * 1e3 / seconds).toFixed(1)} ms/s)`)
  console.log(`Redis main-thread CPU per message: ${(postingCpu * 1e6 / accepted).toFixed(1)} µs (idle ${(idleCpu * 1e3 / seconds).toFixed(2)} ms/s subtracted)`)
} finally {
  for (const child of children.reverse()) {
    await new Promise((resolve) => { if (child.exitCode !== null) resolve(null); else { child.once('close', resolve); child.kill('SIGTERM') } })
  }
  redis?.disconnect()
  await cleanup()
}

/** Removes this run's topics, groups and database (the private Redis is gone with its process). */
async function cleanup () {
  const admin = new Kafka({ clientId: 'capacity-cleanup', brokers: env.KAFKA_BROKERS.split(','), logLevel: logLevel.NOTHING }).admin()
  await Promise.allSettled([
    (async () => {
      await admin.connect()
      const groups = (await admin.listGroups()).groups.map((g) => g.groupId).filter((g) => g.startsWith(env.KAFKA_TOPIC_PREFIX))
      if (groups.length) await admin.deleteGroups(groups).catch(() => {})
      const topics = (await admin.listTopics()).filter((name) => name.startsWith(env.KAFKA_TOPIC_PREFIX))
      if (topics.length) await admin.deleteTopics({ topics })
    })().finally(() => admin.disconnect()),
    mongo.db(env.MONGO_DB).dropDatabase().finally(() => mongo.close())
  ])
}
