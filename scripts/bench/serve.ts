// Child process entry: runs a Node server under test (switchboard, the Socket.IO reference or the
// seed's design) on free ports, so the load generator never shares its event loop. Talks to the
// parent over IPC. Each kind's modules are loaded only when that kind runs.
//
// Run by hand (no IPC), it serves a reference alone, for a generator on another machine
// (`--target`): `npm run bench:serve -- socketio|seed [--host H] [--port P]`, until Ctrl-C.
import { writeFile } from 'node:fs/promises'
import { Session } from 'node:inspector/promises'
import { join } from 'node:path'
import { monitorEventLoopDelay, performance } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import closeWithGrace from 'close-with-grace'
import type { FastifyInstance } from 'fastify'

export type ServerKind = 'switchboard' | 'socketio' | 'seed'
export interface Listening { type: 'listening', apiUrl: string, uwsUrl?: string, fastifyWsUrl?: string, mode: string }
/** The measured window's figures; the event-loop ones only for Node servers (not Centrifugo). */
export interface Stopped { type: 'stopped', cpuUserMs: number, cpuSystemMs: number, elu?: number, eventLoopDelayP99Ms?: number, eventLoopDelayMaxMs?: number, profile?: string }

function args (): { positionals: ServerKind[], values: { host: string, port: string } } {
  try {
    return parseArgs({ allowPositionals: true, options: { host: { type: 'string', default: '127.0.0.1' }, port: { type: 'string', default: '0' } } }) as ReturnType<typeof args>
  } catch (err) {
    console.error(`bench:serve: ${(err as Error).message}\nusage: npm run bench:serve -- socketio|seed [--host H] [--port P]`)
    process.exit(2)
  }
}
const { positionals: [kind], values: where } = args()
/** Started by the bench (IPC), or by hand: a reference serving a generator elsewhere. */
const standalone = process.send === undefined
const send = (message: unknown) => process.send?.(message)
/** Where a reference listens: a free loopback port for the bench, --host and --port by hand. */
const listenOn = { host: where.host, port: Number(where.port) }
const profileDir = process.env.BENCH_PROFILE_DIR

/** CPU profile of the run only (not of the start-up), written as DIR/<kind>-<time>.cpuprofile. */
async function startProfile (): Promise<() => Promise<string>> {
  const session = new Session()
  session.connect()
  await session.post('Profiler.enable')
  await session.post('Profiler.setSamplingInterval', { interval: 500 })
  await session.post('Profiler.start')
  return async () => {
    const { profile } = await session.post('Profiler.stop')
    const file = join(profileDir!, `${kind}-${process.env.BENCH_PROFILE_LABEL ?? ''}${Date.now()}.cpuprofile`)
    await writeFile(file, JSON.stringify(profile))
    session.disconnect()
    return file
  }
}

async function startSwitchboard (): Promise<{ app: FastifyInstance, listening: Listening }> {
  const [{ default: Fastify }, { default: App, serverOptions }, { loadConfig }] = await Promise.all([import('fastify'), import('../../app.ts'), import('../../config.ts')])
  // Free ports on loopback; the rest (Kafka, Redis, MongoDB or embedded) comes from the environment.
  const config = loadConfig(process.env, { HOST: '127.0.0.1', PORT: 0, WS_PORT: 0, ...(process.env.LOG_LEVEL ? {} : { LOG_LEVEL: 'warn' as const }) })
  const app = Fastify({ ...serverOptions(config), logger: { level: config.LOG_LEVEL } })
  await app.register(App, { config })
  await app.listen({ host: config.HOST, port: 0 })
  const { port } = app.server.address() as { port: number }
  const mode = [config.KAFKA_BROKERS ? 'kafka' : 'embedded log', config.REDIS_CLUSTER_NODES ? 'redis cluster' : config.REDIS_URL ? 'redis' : 'embedded cache', config.MONGO_URL ? 'mongodb' : 'embedded store'].join(', ')
  return { app, listening: { type: 'listening', apiUrl: `http://127.0.0.1:${port}`, uwsUrl: `ws://127.0.0.1:${app.fanout.uwsPort}/ws`, fastifyWsUrl: `ws://127.0.0.1:${port}/ws`, mode } }
}

async function startReference (): Promise<{ app: FastifyInstance, listening: Listening }> {
  const { createReferenceServer } = await import('./reference/server.ts')
  const redisUrl = process.env.REDIS_URL || 'redis://127.0.0.1:6379'
  const app = await createReferenceServer({ redisUrl })
  await app.listen(listenOn)
  const { port } = app.server.address() as { port: number }
  return { app, listening: { type: 'listening', apiUrl: `http://${listenOn.host}:${port}`, mode: `socket.io + redis adapter (${redisUrl})` } }
}

async function startSeed (): Promise<{ app: FastifyInstance, listening: Listening }> {
  const [{ createSeedServer }, { missingSeedServices }] = await Promise.all([import('./reference/seed.ts'), import('./target.ts')])
  const env = process.env
  const missing = missingSeedServices(env)
  if (missing.length > 0) throw new Error(`the seed's design runs on the real services: set ${missing.join(', ')}`)
  const { app, names } = await createSeedServer({ kafkaBrokers: (env.KAFKA_BROKERS ?? '').split(',').map((b) => b.trim()).filter(Boolean), redisUrl: env.REDIS_URL!, mongoUrl: env.MONGO_URL!, partitions: Number(env.KAFKA_PARTITIONS) || 3 })
  await app.listen(listenOn)
  const { port } = app.server.address() as { port: number }
  return { app, listening: { type: 'listening', apiUrl: `http://${listenOn.host}:${port}`, mode: `seed design: socket.io, mongodb ${names.db}, kafka ${names.topic}, redis ${names.keyPrefix}*` } }
}

const STARTERS: Record<ServerKind, () => Promise<{ app: FastifyInstance, listening: Listening }>> = { switchboard: startSwitchboard, socketio: startReference, seed: startSeed }

try {
  if (!(kind in STARTERS)) throw new Error(`unknown server kind ${JSON.stringify(kind ?? '')}: socketio or seed (switchboard when the bench starts it)`)
  if (standalone && kind === 'switchboard') throw new Error('switchboard serves a generator elsewhere with `npm start` (RATE_LIMIT_MAX=0 lets one client post at any rate)')
  if (!Number.isInteger(listenOn.port) || listenOn.port < 0 || listenOn.port > 65535) throw new Error(`--port must be a port number (0-65535), not ${JSON.stringify(where.port)}`)
  const { app, listening } = await STARTERS[kind]()
  // Figures cover the measured window only: from the parent's `mark` (posting starts, every
  // subscriber connected) to `stop`, not start-up and not 5,000 subscribes.
  let stopProfile: (() => Promise<string>) | undefined
  let cpu = process.cpuUsage()
  let elu = performance.eventLoopUtilization()
  const delay = monitorEventLoopDelay({ resolution: 10 })
  delay.enable()
  process.on('message', async (message: { type?: string }) => {
    if (message?.type !== 'mark') return
    if (profileDir && !stopProfile) stopProfile = await startProfile()
    cpu = process.cpuUsage()
    elu = performance.eventLoopUtilization()
    delay.reset()
    send({ type: 'marked' })
  })
  let measured: Stopped | undefined
  const measure = async (): Promise<Stopped> => {
    if (measured) return measured
    const used = process.cpuUsage(cpu)
    measured = { type: 'stopped', cpuUserMs: used.user / 1000, cpuSystemMs: used.system / 1000, elu: performance.eventLoopUtilization(elu).utilization, eventLoopDelayP99Ms: delay.percentile(99) / 1e6, eventLoopDelayMaxMs: delay.max / 1e6 }
    if (stopProfile) measured.profile = await stopProfile()
    return measured
  }
  process.on('message', async (message: { type?: string }) => {
    // `measure` ends the window when the drain ends, before the subscribers disconnect
    if (message?.type === 'measure') send({ ...await measure(), type: 'measured' })
    if (message?.type !== 'stop') return
    const stopped = await measure()
    await app.close().catch(() => {})
    send(stopped)
    process.disconnect?.()
    process.exit(0)
  })
  // Node flags given to this process (BENCH_SERVER_FLAGS; the tsx loader aside) are part of what was measured.
  const flags = process.execArgv.filter((arg, i, all) => arg !== '--import' && all[i - 1] !== '--import')
  send(flags.length ? { ...listening, mode: `${listening.mode}; node ${flags.join(' ')}` } : listening)
  if (standalone) {
    closeWithGrace({ delay: 10_000 }, async () => { await app.close() })
    // on every interface: the generator elsewhere uses this host's address
    const url = ['0.0.0.0', '::'].includes(listenOn.host) ? listening.apiUrl.replace(listenOn.host, 'THIS-HOST') : listening.apiUrl
    console.log(`bench: ${kind} reference (${listening.mode}) serving ${listening.apiUrl}; from the generator: npm run bench -- --target ${url} --transport ${kind}`)
  }
} catch (err) {
  send({ type: 'failed', message: (err as Error).message })
  if (standalone) console.error(`bench:serve: ${(err as Error).message}`)
  process.exit(1)
}
