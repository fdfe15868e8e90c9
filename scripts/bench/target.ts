/* c8 ignore start */ // Coverage: `npm run bench` runs this file in a process of its own, which test/bench drives end to end (a child process's coverage is not collected); the thresholds measure the product.
// The server under test: a running deployment (--target) or a server this tool starts: switchboard
// on embedded or real services, or a reference (Socket.IO + Redis adapter, the seed's design,
// Centrifugo), each in its own process, with the request that posts a message to it.
import { fork, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { startCentrifugo } from './centrifugo.ts'
import { messagesPost, type PostRequest } from './poster.ts'
import type { BenchOptions, TransportKind } from './options.ts'
import type { Listening, ServerKind, Stopped } from './serve.ts'

export interface Target {
  apiUrl: string
  wsUrl: string
  /** what serves it: "embedded log, embedded cache, embedded store", "socket.io + redis adapter", "external" */
  mode: string
  /** how a message is posted to it */
  post: PostRequest
  /** starts the measured window (CPU, event loop, profile) of a server this tool started */
  mark (): Promise<void>
  /** ends the measured window: server CPU time, event loop and profile, for servers this tool started */
  measure (): Promise<Stopped | undefined>
  stop (): Promise<Stopped | undefined>
  /** --fail instance: ends its measured window (what it used so far) and SIGKILLs it; started servers only */
  kill (): Promise<Stopped | undefined>
}

const SERVE = fileURLToPath(new URL('./serve.ts', import.meta.url))
const START_TIMEOUT_MS = 120_000
/** The seed's design runs on the real services only. */
export const SEED_SERVICES = ['KAFKA_BROKERS', 'REDIS_URL', 'MONGO_URL'] as const

/** The service URLs the seed reference needs and the environment lacks. */
export function missingSeedServices (env: NodeJS.ProcessEnv = process.env): string[] {
  return SEED_SERVICES.filter((name) => !env[name])
}

/** How each transport's server is started, and where its subscribers connect. */
const STARTERS: Record<TransportKind, (options: BenchOptions, transport: TransportKind) => Promise<Target>> = {
  uws: (options, t) => forkServer(options, t, 'switchboard', (l) => l.uwsUrl!),
  fastify: (options, t) => forkServer(options, t, 'switchboard', (l) => l.fastifyWsUrl!),
  socketio: (options, t) => forkServer(options, t, 'socketio', (l) => l.apiUrl),
  seed: (options, t) => {
    const missing = missingSeedServices()
    if (missing.length > 0) throw new Error(`--transport seed runs the seed's design on the real services: set ${missing.join(', ')} (e.g. KAFKA_BROKERS=127.0.0.1:9092 REDIS_URL=redis://127.0.0.1:6379 MONGO_URL=mongodb://127.0.0.1:27017, started by scripts/services.sh up)`)
    return forkServer(options, t, 'seed', (l) => l.apiUrl)
  },
  centrifugo: (options) => {
    if (options.profile && !options.quiet) console.error('bench: --profile does not apply to Centrifugo (a Go binary): its CPU time is measured, not profiled')
    return startCentrifugo(process.env.REDIS_URL || undefined, options.quiet)
  }
}

/** What instances of one deployment share, so that a message posted on one is delivered on all. */
export const SHARED_SERVICES = ['KAFKA_BROKERS', 'REDIS_URL or REDIS_CLUSTER_NODES', 'MONGO_URL'] as const

/** The shared services --instances N > 1 needs and the environment lacks (embedded ones are per process). */
export function missingSharedServices (env: NodeJS.ProcessEnv = process.env): string[] {
  return SHARED_SERVICES.filter((name) => name.includes(' or ') ? !env.REDIS_URL && !env.REDIS_CLUSTER_NODES : !env[name])
}

/** The server(s) under test: one per --target URL, or --instances started ones (one by default). */
export async function openTargets (options: BenchOptions, transport: TransportKind): Promise<Target[]> {
  if (options.target) {
    const apis = options.targets ?? [options.target]
    const wsUrls = options.wsUrls ?? (options.wsUrl ? [options.wsUrl] : [])
    return apis.map((api, i) => externalTarget(api, wsUrls[i], transport, options.token))
  }
  if (options.instances === 1) return [await STARTERS[transport](options, transport)]
  const missing = missingSharedServices()
  if (missing.length > 0) throw new Error(`--instances ${options.instances} needs services the instances share (embedded ones live in each process): set ${missing.join(', ')} (scripts/services.sh up prints them)`)
  const wsUrlOf = transport === 'fastify' ? (l: Listening) => l.fastifyWsUrl! : (l: Listening) => l.uwsUrl!
  const run = Math.random().toString(16).slice(2, 8)
  const targets: Target[] = []
  try {
    // one after the other: the first creates the topics the others find
    for (let i = 1; i <= options.instances; i++) {
      targets.push(await forkServer(options, transport, 'switchboard', wsUrlOf, { INSTANCE_ID: `${process.env.INSTANCE_ID || 'bench'}-${run}-${i}` }, `${i}-`))
    }
  } catch (err) {
    await Promise.all(targets.map((t) => t.stop().catch(() => undefined)))
    throw err
  }
  return targets
}

/** A Node server (switchboard or a Node reference) in a child process running serve.ts. */
async function forkServer (options: BenchOptions, transport: TransportKind, kind: ServerKind, wsUrlOf: (l: Listening) => string, env: Record<string, string> = {}, label = ''): Promise<Target> {
  if (options.profile) mkdirSync(options.profile, { recursive: true })
  const child = fork(SERVE, [kind], {
    // BENCH_SERVER_FLAGS: Node flags for the server alone (--perf-basic-prof, --trace-gc), not the generator
    execArgv: [...(process.env.BENCH_SERVER_FLAGS?.split(' ').filter(Boolean) ?? []), '--import', 'tsx'],
    env: {
      // A bench must not be throttled by its own server: no per-client rate limit (0 = off).
      RATE_LIMIT_MAX: '0',
      ...process.env,
      ...env,
      ...(options.profile ? { BENCH_PROFILE_DIR: options.profile, BENCH_PROFILE_LABEL: `${transport}-${label}` } : {})
    },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc']
  })
  const listening = await firstMessage<Listening>(child, 'listening', START_TIMEOUT_MS)
  const measure = async (): Promise<Stopped> => {
    const measured = firstMessage<Stopped>(child, 'measured', 30_000)
    child.send({ type: 'measure' })
    return await measured
  }
  return {
    apiUrl: listening.apiUrl,
    wsUrl: wsUrlOf(listening),
    mode: listening.mode,
    post: messagesPost(options.token),
    async mark () {
      const marked = firstMessage<{ type: 'marked' }>(child, 'marked', 30_000)
      child.send({ type: 'mark' })
      await marked
    },
    measure,
    async stop () {
      if (child.exitCode !== null || child.signalCode !== null) return undefined
      const stopped = firstMessage<Stopped>(child, 'stopped', 30_000)
      const exited = once(child, 'exit')
      child.send({ type: 'stop' })
      const result = await stopped.catch(() => undefined)
      await exited
      return result
    },
    async kill () {
      if (child.exitCode !== null || child.signalCode !== null) return undefined
      const used = await measure().catch(() => undefined)
      const exited = once(child, 'exit')
      child.kill('SIGKILL')
      await exited
      return used
    }
  }
}

/** A running deployment: uws on port 5002 of its host, fastify on its API port, Socket.IO (socketio, seed) on its base URL. */
function externalTarget (apiUrl: string, wsUrl: string | undefined, transport: TransportKind, token: string | undefined): Target {
  const api = new URL(apiUrl)
  const ws = api.protocol === 'https:' ? 'wss:' : 'ws:'
  const derived = transport === 'socketio' || transport === 'seed' ? apiUrl : transport === 'fastify' ? `${ws}//${api.host}/ws` : `${ws}//${api.hostname}:5002/ws`
  return { apiUrl, wsUrl: wsUrl ?? derived, mode: 'external', post: messagesPost(token), mark: async () => {}, measure: async () => undefined, stop: async () => undefined, kill: async () => { throw new Error('a running deployment (--target) is not killed by this tool') } }
}

function firstMessage<T> (child: ChildProcess, type: string, timeoutMs: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { cleanup(); child.kill(); reject(new Error(`the server did not answer "${type}" within ${timeoutMs} ms`)) }, timeoutMs)
    const onMessage = (m: { type?: string, message?: string }) => {
      if (m?.type === type) { cleanup(); resolve(m as T) } else if (m?.type === 'failed') { cleanup(); reject(new Error(`the server failed to start: ${m.message}`)) }
    }
    const onExit = (code: number | null) => { cleanup(); reject(new Error(`the server exited (code ${code}) before "${type}"`)) }
    const cleanup = () => { clearTimeout(timer); child.off('message', onMessage); child.off('exit', onExit) }
    child.on('message', onMessage)
    child.on('exit', onExit)
  })
}
