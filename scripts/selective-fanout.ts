// Measures the selective fanout (docs/scaling.md, "Selective fanout"): two ROLES=fanout instances
// side by side in one run, one with FANOUT_SELECTIVE=true and one reading every partition, on a
// fresh topic of PARTITIONS partitions. Both have the same sockets, in channels of two partitions
// only; a third instance (ROLES=api,workers) takes posts spread over every partition. Reports each
// fanout's CPU (utime + stime from /proc) over the measured window, and what its sockets got.
// A measurement, not a test: run it alone, on a quiet machine.
//   npx tsx scripts/selective-fanout.ts [--rate 300] [--seconds 20] [--warmup 5] [--sockets 100]
// Needs KAFKA_BROKERS, REDIS_URL and MONGO_URL (the services of scripts/services.sh).
import { spawn, execFileSync, type ChildProcess } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { Kafka, Partitioners, logLevel, type PartitionMetadata } from 'kafkajs'
import { Redis } from 'ioredis'
import { MongoClient } from 'mongodb'
import WebSocket from 'ws'
import { parseProcStat } from './bench/centrifugo.ts'

const { values } = parseArgs({ options: { rate: { type: 'string', default: '300' }, seconds: { type: 'string', default: '20' }, warmup: { type: 'string', default: '5' }, sockets: { type: 'string', default: '100' }, partitions: { type: 'string', default: '24' } } })
const RATE = Number(values.rate)
const SECONDS = Number(values.seconds)
const WARMUP = Number(values.warmup)
const SOCKETS = Number(values.sockets)
const PARTITIONS = Number(values.partitions)
const SUBSCRIBED_PARTITIONS = [0, 1]
const CHANNELS_PER_PARTITION = 5
const root = fileURLToPath(new URL('..', import.meta.url))
for (const name of ['KAFKA_BROKERS', 'REDIS_URL', 'MONGO_URL']) if (!process.env[name]) throw new Error(`${name} is not set (scripts/services.sh up prints it)`)

const id = `selective-${randomUUID().slice(0, 8)}`
const env = {
  KAFKA_BROKERS: process.env.KAFKA_BROKERS!,
  REDIS_URL: process.env.REDIS_URL!,
  MONGO_URL: process.env.MONGO_URL!,
  KAFKA_TOPIC_PREFIX: `${id}.`,
  REDIS_KEY_PREFIX: `${id}:`,
  MONGO_DB: id.replace(/-/g, '_'),
  KAFKA_PARTITIONS: String(PARTITIONS),
  RATE_LIMIT_MAX: '0',
  SHED_EVENT_LOOP_DELAY_MS: '0',
  SHED_EVENT_LOOP_UTILIZATION: '0',
  PORT: '0',
  WS_PORT: '0',
  LOG_LEVEL: 'info'
}

interface Instance { child: ChildProcess, apiPort?: number, wsPort?: number }

/** Starts server.ts with these settings; resolves once it says it is ready, with its ports. */
function start (extra: Record<string, string>): Promise<Instance> {
  const child = spawn(process.execPath, ['--import=tsx', 'server.ts'], { cwd: root, env: { PATH: process.env.PATH, ...env, INSTANCE_ID: `${id}-${randomUUID().slice(0, 6)}`, ...extra }, stdio: ['ignore', 'pipe', 'inherit'] })
  const instance: Instance = { child }
  return new Promise((resolve, reject) => {
    child.once('close', (code) => reject(new Error(`instance exited (${code}) before it was ready`)))
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const entry = (() => { try { return JSON.parse(line) } catch { return {} } })()
      if (entry.component === 'fanout' && typeof entry.port === 'number') instance.wsPort = entry.port
      const listening = typeof entry.msg === 'string' && /Server listening at http:\/\/[^ ]+:(\d+)$/.exec(entry.msg)
      if (listening) instance.apiPort = Number(listening[1])
      if (typeof entry.msg === 'string' && entry.msg.startsWith('switchboard ready')) resolve(instance)
    })
  })
}

// where the producer places a channel: murmur2 of the key over the topic's partitions
const partitioner = Partitioners.DefaultPartitioner()
const metadata: PartitionMetadata[] = Array.from({ length: PARTITIONS }, (_v, partitionId) => ({ partitionId, leader: 0, replicas: [0], isr: [0], partitionErrorCode: 0, offlineReplicas: [] }))
const partitionOf = (channel: string) => partitioner({ topic: 'messages', partitionMetadata: metadata, message: { key: channel, value: null } })

/** Channels in every partition: `perPartition` each. */
function channelsByPartition (perPartition: number): string[][] {
  const by: string[][] = Array.from({ length: PARTITIONS }, () => [])
  for (let i = 0; by.some((list) => list.length < perPartition); i++) {
    const channel = `room-${i}`
    const list = by[partitionOf(channel)]
    if (list.length < perPartition) list.push(channel)
  }
  return by
}

const ticks = (() => { try { return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100 } catch { return 100 } })()
const cpuMs = (pid: number) => { const { userTicks, systemTicks } = parseProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8')); return (userTicks + systemTicks) * 1000 / ticks }

/** SOCKETS anonymous sockets on a fanout, each in one of `channels`; counts the events they get. */
async function subscribe (port: number, channels: string[]): Promise<{ sockets: WebSocket[], events: () => number }> {
  let events = 0
  const sockets = await Promise.all(Array.from({ length: SOCKETS }, async (_v, i) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`)
    const channel = channels[i % channels.length]
    await new Promise<void>((resolve, reject) => {
      ws.on('error', reject)
      ws.on('message', (data) => {
        const frame = JSON.parse(String(data)) as { op: string }
        if (frame.op === 'ready') ws.send(JSON.stringify({ op: 'subscribe', channel }))
        else if (frame.op === 'subscribed') resolve()
        else if (frame.op === 'event') events++
      })
    })
    return ws
  }))
  return { sockets, events: () => events }
}

const instances: Instance[] = []
try {
  console.log(`selective fanout: ${PARTITIONS} partitions, ${SOCKETS} sockets per fanout in ${SUBSCRIBED_PARTITIONS.length} partitions, ${RATE} posts/s over all partitions, ${WARMUP} s warm-up then ${SECONDS} s measured`)
  const writer = await start({ ROLES: 'api,workers' })
  instances.push(writer)
  const [selective, everything] = await Promise.all([start({ ROLES: 'fanout', FANOUT_SELECTIVE: 'true' }), start({ ROLES: 'fanout', FANOUT_SELECTIVE: 'false' })])
  instances.push(selective, everything)
  const by = channelsByPartition(CHANNELS_PER_PARTITION)
  const subscribed = SUBSCRIBED_PARTITIONS.flatMap((p) => by[p])
  const all = by.flat()
  const fanouts = [{ name: 'selective', instance: selective }, { name: 'reads everything', instance: everything }]
  const clients = await Promise.all(fanouts.map(({ instance }) => subscribe(instance.wsPort!, subscribed)))

  // posts at RATE, round robin over every channel of every partition, through the writer
  let posted = 0
  let failed = 0
  const url = `http://127.0.0.1:${writer.apiPort}/api/messages`
  const post = (channelId: string) => fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ channelId, content: 'selective fanout measurement', senderId: 'bench' }) })
    .then((res) => { if (res.status === 201) posted++; else failed++; return res.arrayBuffer() }, () => { failed++ })
  let n = 0
  const timer = setInterval(() => { for (let i = 0; i < RATE / 100; i++) void post(all[n++ % all.length]) }, 10)

  await new Promise((resolve) => setTimeout(resolve, WARMUP * 1000))
  const from = fanouts.map(({ instance }) => cpuMs(instance.child.pid!))
  const eventsFrom = clients.map((c) => c.events())
  const postedFrom = posted
  await new Promise((resolve) => setTimeout(resolve, SECONDS * 1000))
  const to = fanouts.map(({ instance }) => cpuMs(instance.child.pid!))
  const eventsTo = clients.map((c) => c.events())
  const postedTo = posted
  clearInterval(timer)

  console.log(`posted ${((postedTo - postedFrom) / SECONDS).toFixed(0)}/s in the window (${failed} failed in all)`)
  console.log('fanout             CPU ms/s   CPU %   events to sockets/s')
  for (const [i, { name }] of fanouts.entries()) {
    const ms = (to[i] - from[i]) / SECONDS
    console.log(`${name.padEnd(18)} ${ms.toFixed(1).padStart(8)}   ${(ms / 10).toFixed(1).padStart(5)}   ${((eventsTo[i] - eventsFrom[i]) / SECONDS).toFixed(0).padStart(8)}`)
  }
  const ratio = (to[0] - from[0]) / (to[1] - from[1])
  console.log(`selective / reads everything: ${ratio.toFixed(2)}`)
  for (const c of clients) for (const ws of c.sockets) ws.close()
} finally {
  await Promise.all(instances.map(({ child }) => new Promise((resolve) => { child.once('close', resolve); child.kill('SIGTERM') })))
  await cleanup()
}

/** Removes this run's topics, groups, keys and database (every run has names of its own). */
async function cleanup () {
  const admin = new Kafka({ clientId: 'selective-fanout-cleanup', brokers: env.KAFKA_BROKERS.split(','), logLevel: logLevel.NOTHING }).admin()
  const redis = new Redis(env.REDIS_URL)
  const mongo = new MongoClient(env.MONGO_URL, { serverSelectionTimeoutMS: 2000 })
  await Promise.allSettled([
    (async () => {
      await admin.connect()
      const groups = (await admin.listGroups()).groups.map((g) => g.groupId).filter((g) => g.startsWith(env.KAFKA_TOPIC_PREFIX))
      if (groups.length) await admin.deleteGroups(groups).catch(() => {})
      const topics = (await admin.listTopics()).filter((name) => name.startsWith(env.KAFKA_TOPIC_PREFIX))
      if (topics.length) await admin.deleteTopics({ topics })
    })().finally(() => admin.disconnect()),
    (async () => { for await (const keys of redis.scanStream({ match: `${env.REDIS_KEY_PREFIX}*`, count: 500 })) if (keys.length) await redis.del(...(keys as string[])) })().finally(() => redis.quit()),
    mongo.db(env.MONGO_DB).dropDatabase().finally(() => mongo.close())
  ])
}
