// Helpers for tests against the real services (scripts/services.sh up): where they are, whether
// they answer, and names of their own for each test file (tap runs files in parallel).
import { randomBytes } from 'node:crypto'
import net from 'node:net'
import type { Test } from 'tap'
import type { FastifyBaseLogger, FastifyInstance, FastifyPluginAsync } from 'fastify'
import { spawn, type ChildProcess } from 'node:child_process'
import { createWriteStream } from 'node:fs'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { pino } from 'pino'
import { Kafka, logLevel } from 'kafkajs'
import { Redis } from 'ioredis'
import { MongoClient, type Db } from 'mongodb'
import { createRedisClient } from '../plugins/external/redis.ts'
import { closeMongoClient, createMongoClient } from '../plugins/external/mongo.ts'
import type { Config } from '../config.ts'
import type { AppOptions } from '../app.ts'
import { build } from './helper.ts'

const root = fileURLToPath(new URL('..', import.meta.url))
import type { HandledRecord } from '../plugins/topic-handlers.ts'
import type { Position } from '../schemas/message.ts'

export type Service = 'kafka' | 'redis' | 'mongo'

// Tests read the environment here (not through config.ts): they choose what the app is given.
export const services = {
  kafka: process.env.KAFKA_BROKERS || '127.0.0.1:9092',
  redis: process.env.REDIS_URL || 'redis://127.0.0.1:6379',
  mongo: process.env.MONGO_URL || 'mongodb://127.0.0.1:27017'
} satisfies Record<Service, string>

/** host:port of a service's first address. */
export function address (service: Service): { host: string, port: number } {
  const raw = services[service]
  if (service === 'kafka') {
    const [host, port] = raw.split(',')[0].trim().split(':')
    return { host, port: Number(port) }
  }
  const url = new URL(raw.split(',')[0])
  return { host: url.hostname, port: Number(url.port) || (service === 'redis' ? 6379 : 27017) }
}

/**
 * Whether a TCP connection opens: decided by the connection's own events (a service that is down
 * here refuses at once). No clock: an address that drops packets is left to the OS's connect
 * timeout, and under REQUIRE_SERVICES=1 to tap's, either way a failure rather than a skip.
 */
function reachable ({ host, port }: { host: string, port: number }): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port })
    const done = (ok: boolean) => { socket.destroy(); resolve(ok) }
    socket.once('connect', () => done(true))
    socket.once('error', () => done(false))
  })
}

/**
 * True when every named service answers. Otherwise the file is skipped with the reason, or fails
 * when REQUIRE_SERVICES=1 (CI): a missing service must not pass as a green run there.
 */
export async function requireServices (t: Test, ...names: Service[]): Promise<boolean> {
  const missing: string[] = []
  for (const name of names) {
    if (!await reachable(address(name))) missing.push(`${name} not reachable at ${services[name]}`)
  }
  if (missing.length === 0) return true
  const reason = `${missing.join('; ')}; run scripts/services.sh up`
  if (process.env.REQUIRE_SERVICES === '1') {
    t.fail(`${reason} (REQUIRE_SERVICES=1)`)
  } else {
    console.log(`# skipping: ${reason}`)
    t.plan(0, reason)
  }
  return false
}

export const requireService = (t: Test, name: Service) => requireServices(t, name)

/** A name no other test file or run uses: Kafka topics and groups, Redis key prefixes, databases. */
export function unique (prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`
}

export interface RealNames { topicPrefix: string, keyPrefix: string, database: string }

/** Topic prefix, Redis key prefix and database name for one test file (or one group of apps). */
export function realNames (prefix: string): RealNames {
  const id = unique(prefix)
  return { topicPrefix: `${id}.`, keyPrefix: `${id}:`, database: id.replace(/[^A-Za-z0-9_]/g, '_') }
}

/** The settings that put an instance on the real services under these names (one deployment). */
export function realEnv (names: RealNames) {
  return {
    KAFKA_BROKERS: services.kafka,
    REDIS_URL: services.redis,
    MONGO_URL: services.mongo,
    KAFKA_TOPIC_PREFIX: names.topicPrefix,
    REDIS_KEY_PREFIX: names.keyPrefix,
    MONGO_DB: names.database
  }
}

/**
 * Builds the app against Kafka, Redis and MongoDB. Apps given the same `names` share topics,
 * groups, cache and database, like instances of one deployment; each has its own INSTANCE_ID.
 * `plugin` is registered after switchboard's, as in `build`.
 */
export async function buildReal (t: Test, config: Partial<Config> & { names?: RealNames } = {}, opts: Partial<AppOptions> = {}, plugin?: FastifyPluginAsync): Promise<FastifyInstance> {
  const { names = realNames('app'), ...rest } = config
  return build(t, {
    ...realEnv(names),
    INSTANCE_ID: unique('i'),
    ...rest
  }, opts, plugin)
}

/**
 * Starts an instance as a process of its own (server.ts) on the real services with these names,
 * killed with SIGKILL in teardown; resolves with the process and its uWS port once it serves.
 */
export async function startInstanceProcess (t: Test, names: RealNames, env: Record<string, string> = {}): Promise<{ child: ChildProcess, port: number }> {
  const child = spawn(process.execPath, ['--import=tsx', 'server.ts'], {
    cwd: root,
    env: {
      PATH: process.env.PATH,
      ...realEnv(names),
      INSTANCE_ID: unique('p'),
      PORT: '0',
      WS_PORT: '0',
      LOG_LEVEL: 'info',
      // no load shedding, as in build(): on a busy CI machine a test of something else must not
      // get a 503 for a saturated second (test/plugins/load-shedding.test.ts tests shedding)
      SHED_EVENT_LOOP_DELAY_MS: '0',
      SHED_EVENT_LOOP_UTILIZATION: '0',
      ...env
    },
    stdio: ['ignore', 'pipe', 'inherit']
  })
  t.teardown(() => { child.kill('SIGKILL') })
  let failure = '' // the error it logged, if it could not start
  const exited = new Promise<never>((_resolve, reject) => child.once('close', (code) => reject(new Error(`instance process exited (${code}) before serving${failure}`))))
  // The fanout's start-up line names its port; the process serves once it says it is ready, after
  // every consumer joined its group (a broadcast consumer starts at the end of the log: records
  // produced before it joined are not this instance's to deliver).
  const port = new Promise<number>((resolve) => {
    let listening: number | undefined
    // TEST_INSTANCE_LOG=<file>: every instance process's log lines go there too, to see why one hangs
    const copy = process.env.TEST_INSTANCE_LOG ? createWriteStream(process.env.TEST_INSTANCE_LOG, { flags: 'a' }) : undefined
    createInterface({ input: child.stdout! }).on('line', (line) => {
      copy?.write(line + '\n')
      const entry = (() => { try { return JSON.parse(line) } catch { return {} } })()
      if (entry.level >= 50 && typeof entry.err?.message === 'string') failure = `: ${entry.err.message}`
      if (entry.component === 'fanout' && typeof entry.port === 'number') listening = entry.port
      if (typeof entry.msg === 'string' && entry.msg.startsWith('switchboard ready') && listening !== undefined) resolve(listening)
    })
  })
  return { child, port: await Promise.race([port, exited]) }
}

/** A client with the app's Redis options (plugins/external/redis.ts) and this key prefix, closed in teardown. */
export function redisClient (t: Test, keyPrefix: string, url = services.redis): Redis {
  const client = createRedisClient(url, { keyPrefix })
  t.teardown(() => { client.disconnect() })
  return client
}

/** A MongoDB database with the app's client options (plugins/external/mongo.ts), its client closed in teardown. */
export function mongoDatabase (t: Test, database: string, url = services.mongo): Db {
  const client = createMongoClient(url)
  t.teardown(() => closeMongoClient(client))
  return client.db(database)
}

/** A logger for implementations built outside an app: silent unless TEST_LOG_LEVEL says otherwise. */
export function testLogger (): FastifyBaseLogger {
  return pino({ level: process.env.TEST_LOG_LEVEL || 'silent' })
}

/** Removes what tests with these names left in the services: topics, groups, keys, database. */
export async function cleanupReal (names: Partial<RealNames>): Promise<void> {
  const tasks: Array<Promise<unknown>> = []
  if (names.topicPrefix) {
    const prefix = names.topicPrefix
    tasks.push((async () => {
      const admin = new Kafka({ clientId: 'switchboard-test-cleanup', brokers: services.kafka.split(','), logLevel: logLevel.NOTHING }).admin()
      await admin.connect()
      try {
        const groups = (await admin.listGroups()).groups.map((g) => g.groupId).filter((g) => g.startsWith(prefix))
        if (groups.length) await admin.deleteGroups(groups).catch(() => {})
        const topics = (await admin.listTopics()).filter((name) => name.startsWith(prefix))
        if (topics.length) await admin.deleteTopics({ topics })
      } finally {
        await admin.disconnect()
      }
    })())
  }
  if (names.keyPrefix) {
    const prefix = names.keyPrefix
    tasks.push((async () => {
      const redis = new Redis(services.redis)
      try {
        for await (const keys of redis.scanStream({ match: `${prefix}*`, count: 500 })) if (keys.length) await redis.del(...keys)
      } finally {
        await redis.quit()
      }
    })())
  }
  if (names.database) {
    const database = names.database
    tasks.push((async () => {
      const mongo = new MongoClient(services.mongo, { serverSelectionTimeoutMS: 2000 })
      try { await mongo.db(database).dropDatabase() } finally { await mongo.close() }
    })())
  }
  // Leftovers are harmless (every run has its own names): a failed cleanup is not a failed test.
  await Promise.allSettled(tasks)
}

/**
 * Remembers every record the apps' topic handlers finished with, from now on, so a test can wait
 * for one whether it was handled before or after the test asked (a POST's answer and the
 * consumers race). With several apps, a shared record counts on whichever instance handled it.
 */
export function handledLog (...apps: FastifyInstance[]) {
  const seen: HandledRecord[] = []
  const waiters = new Set<{ match: (h: HandledRecord) => boolean, resolve: () => void }>()
  for (const app of apps) {
    app.topicHandlers.events.on('handled', (h) => {
      seen.push(h)
      for (const w of waiters) if (w.match(h)) { waiters.delete(w); w.resolve() }
    })
  }
  return {
    /** Resolves once `handler` has handled the record at `position`, on any of the apps. */
    handled (handler: string, position: Position): Promise<void> {
      const match = (h: HandledRecord) => h.handler === handler && h.epoch === position.epoch && h.offset === position.offset
      if (seen.some(match)) return Promise.resolve()
      return new Promise((resolve) => { waiters.add({ match, resolve }) })
    }
  }
}
