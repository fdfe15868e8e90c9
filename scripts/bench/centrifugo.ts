/* c8 ignore start */ // Coverage: `npm run bench` runs this file in a process of its own, which test/bench drives end to end (a child process's coverage is not collected); the thresholds measure the product.
// Centrifugo v6 as a server under test (a reference, benchmarks only): the binary (built into the
// services cache by centrifugo.sh when missing), its generated config, its HTTP publish API as the
// post request, and its CPU time read from /proc over the measured window.
import { execFileSync, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { mkdtempSync, openSync, closeSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Redis } from 'ioredis'
import type { PostRequest } from './poster.ts'
import type { Stopped } from './serve.ts'
import type { Target } from './target.ts'

export const CENTRIFUGO_VERSION = 'v6.9.1'
const BUILD = fileURLToPath(new URL('./centrifugo.sh', import.meta.url))
const START_TIMEOUT_MS = 30_000

export interface CentrifugoConfigOptions {
  port: number
  apiKey: string
  /** Redis engine at this URL; the memory engine without one */
  redisUrl?: string
  /** Redis key prefix, one per run */
  redisPrefix?: string
}

/**
 * The v6 nested configuration: anonymous clients may connect and subscribe (insecure), the HTTP API
 * takes the key, and every channel keeps a history (size 100, 300 s) with recovery forced, as a
 * chat would configure it. The engine holds channels' state: memory, or Redis to compare with
 * switchboard on real services.
 */
export function centrifugoConfig ({ port, apiKey, redisUrl, redisPrefix }: CentrifugoConfigOptions): Record<string, unknown> {
  return {
    client: { insecure: true },
    http_api: { key: apiKey },
    http_server: { address: '127.0.0.1', port },
    engine: redisUrl
      ? { type: 'redis', redis: { address: [redisUrl], ...(redisPrefix ? { prefix: redisPrefix } : {}) } }
      : { type: 'memory' },
    channel: { without_namespace: { history_size: 100, history_ttl: '300s', force_recovery: true } },
    health: { enabled: true },
    usage_stats: { disabled: true },
    log: { level: 'warn' }
  }
}

/** `POST /api/publish` with the API key; the data is the message the other targets get, stamp in its content. */
export function centrifugoPost (apiKey: string): PostRequest {
  return {
    path: '/api/publish',
    headers: { 'content-type': 'application/json', 'x-api-key': apiKey },
    body: (message) => JSON.stringify({ channel: message.channelId, data: message }),
    // errors come back as 200 {"error":{…}} (the default error mode), a publish as {"result":{…}}
    acknowledged: (status, text) => status === 200 && text.startsWith('{"result"')
  }
}

/** utime and stime (clock ticks, all threads) from /proc/<pid>/stat; the name field may hold spaces and parentheses. */
export function parseProcStat (text: string): { userTicks: number, systemTicks: number } {
  // fields after the name, which ends at the last ')': state is field 3, utime 14, stime 15
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ')
  const userTicks = Number(fields[14 - 3])
  const systemTicks = Number(fields[15 - 3])
  if (!Number.isInteger(userTicks) || !Number.isInteger(systemTicks)) throw new Error(`unreadable /proc stat: ${text.slice(0, 120)}`)
  return { userTicks, systemTicks }
}

function clockTicksPerSecond (): number {
  try { return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100 } catch { return 100 }
}

/** The cached binary, built by centrifugo.sh (go install, its progress on stderr) when missing. */
async function centrifugoBinary (): Promise<string> {
  const build = spawn(BUILD, [], { stdio: ['ignore', 'pipe', 'inherit'] })
  let stdout = ''
  build.stdout.setEncoding('utf8').on('data', (chunk: string) => { stdout += chunk })
  const [code] = await once(build, 'exit') as [number | null]
  if (code !== 0) throw new Error(`Centrifugo ${CENTRIFUGO_VERSION} is not built and ${BUILD} could not build it (exit code ${code}; its output is above)`)
  return stdout.trim().split('\n').pop()!
}

function freePort (): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}

async function waitHealthy (url: string, exited: () => string | undefined): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS
  for (;;) {
    const gone = exited()
    if (gone) throw new Error(gone)
    try {
      const res = await fetch(url)
      await res.body?.cancel()
      if (res.ok) return
    } catch {}
    if (Date.now() > deadline) throw new Error(`Centrifugo did not answer ${url} within ${START_TIMEOUT_MS} ms`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

/** Starts Centrifugo on a free loopback port with its own config (and Redis prefix), as the target. */
export async function startCentrifugo (redisUrl: string | undefined, quiet: boolean): Promise<Target> {
  const binary = await centrifugoBinary()
  const dir = mkdtempSync(join(tmpdir(), 'sb-bench-centrifugo-'))
  const apiKey = randomBytes(16).toString('hex')
  const redisPrefix = `sb-bench-cf-${randomBytes(4).toString('hex')}`
  const port = await freePort()
  const configFile = join(dir, 'config.json')
  writeFileSync(configFile, JSON.stringify(centrifugoConfig({ port, apiKey, redisUrl, redisPrefix }), null, 2))
  const logFile = join(dir, 'centrifugo.log')
  const logFd = openSync(logFile, 'a')
  const child = spawn(binary, ['-c', configFile], { stdio: ['ignore', logFd, logFd] })
  closeSync(logFd)
  const logTail = () => { try { return readFileSync(logFile, 'utf8').trim().split('\n').slice(-5).join(' | ') } catch { return '' } }
  let exit: string | undefined
  child.once('exit', (code, signal) => { exit = `Centrifugo exited (${signal ?? `code ${code}`}): ${logTail()}` })
  const ticks = clockTicksPerSecond()
  const cpu = () => parseProcStat(readFileSync(`/proc/${child.pid}/stat`, 'utf8'))
  let marked = { userTicks: 0, systemTicks: 0 }
  let measured: Stopped | undefined
  let stopped = false

  const stop = async (): Promise<Stopped | undefined> => {
    if (stopped) return measured
    stopped = true
    if (child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit')
      child.kill('SIGTERM')
      const kill = setTimeout(() => child.kill('SIGKILL'), 5000)
      await exited
      clearTimeout(kill)
    }
    if (redisUrl) await dropKeys(redisUrl, redisPrefix).catch(() => {})
    rmSync(dir, { recursive: true, force: true })
    return measured
  }
  try {
    await waitHealthy(`http://127.0.0.1:${port}/health`, () => exit)
  } catch (err) {
    await stop()
    throw err
  }
  if (!quiet) console.error(`centrifugo ${CENTRIFUGO_VERSION} on 127.0.0.1:${port} (${binary}), ${redisUrl ? `redis engine at ${redisUrl}, prefix ${redisPrefix}` : 'memory engine'}`)
  return {
    apiUrl: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}/connection/websocket`,
    mode: `centrifugo ${CENTRIFUGO_VERSION}, ${redisUrl ? `redis engine (${redisUrl})` : 'memory engine'}`,
    post: centrifugoPost(apiKey),
    async mark () { marked = cpu(); measured = undefined },
    async measure () {
      if (measured) return measured
      const now = cpu()
      measured = { type: 'stopped', cpuUserMs: ((now.userTicks - marked.userTicks) * 1000) / ticks, cpuSystemMs: ((now.systemTicks - marked.systemTicks) * 1000) / ticks }
      return measured
    },
    stop,
    kill: async () => { throw new Error('--fail instance kills switchboard instances, not Centrifugo') }
  }
}

/** Centrifugo's Redis engine keeps history metadata long after a run: remove this run's keys. */
async function dropKeys (redisUrl: string, prefix: string): Promise<void> {
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 })
  try {
    await redis.connect()
    let cursor = '0'
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000)
      cursor = next
      if (keys.length > 0) await redis.unlink(...keys)
    } while (cursor !== '0')
  } finally {
    redis.disconnect()
  }
}
