// What the chat-state benchmarks (unread.ts, markers.ts) share: a switchboard server on the real
// services, started as `npm run bench` starts its own (serve.ts in a child process, no rate limit),
// and HTTP calls to it as a user (auth off: x-user-id) on a keep-alive pool.
import { setTimeout as sleep } from 'node:timers/promises'
import { Pool } from 'undici'
import { parseOptions, type BenchOptions } from './options.ts'
import { missingSeedServices, openTargets, type Target } from './target.ts'

/** The real services a chat-state benchmark runs on, or an error naming those missing. */
export function requireRealServices (env: NodeJS.ProcessEnv = process.env): void {
  const missing = missingSeedServices(env)
  if (missing.length > 0) throw new Error(`runs on the real services: set ${missing.join(', ')} (e.g. KAFKA_BROKERS=127.0.0.1:9092 REDIS_URL=redis://127.0.0.1:6379 MONGO_URL=mongodb://127.0.0.1:27017, started by scripts/services.sh up)`)
}

/** switchboard (uws) in a child process, exactly as `npm run bench` starts it. */
export async function startServer (quiet: boolean): Promise<Target> {
  const defaults = parseOptions([]) as BenchOptions
  const [target] = await openTargets({ ...defaults, quiet, instances: 1 }, 'uws')
  return target
}

export interface Answer { status: number, body: string }

/** Tries of a patient request: a server shedding load (503) or dropping the connection is asked again. */
const PATIENT_TRIES = 20

/**
 * Requests as a user (auth off: the x-user-id header). `patient`, for a benchmark's setup and
 * polls (not its measured requests): a 503 is asked again after its Retry-After, and a connection
 * the server closed (overloaded while it indexes a fill) after a second, up to PATIENT_TRIES times.
 */
export function userClient (pool: Pool, { patient = false }: { patient?: boolean } = {}) {
  async function once (userId: string, method: 'GET' | 'PUT' | 'POST', path: string, body?: unknown): Promise<Answer & { retryAfter?: number }> {
    const res = await pool.request({ method, path, headers: { 'x-user-id': userId, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) }, body: body !== undefined ? JSON.stringify(body) : undefined })
    const retryAfter = Number(res.headers['retry-after'])
    return { status: res.statusCode, body: await res.body.text(), ...(Number.isFinite(retryAfter) ? { retryAfter } : {}) }
  }
  return async function request (userId: string, method: 'GET' | 'PUT' | 'POST', path: string, body?: unknown): Promise<Answer> {
    for (let tries = 1; ; tries++) {
      let answer: (Answer & { retryAfter?: number }) | undefined
      try {
        answer = await once(userId, method, path, body)
      } catch (err) {
        if (!patient || tries >= PATIENT_TRIES) throw err
      }
      if (answer && (!patient || answer.status !== 503 || tries >= PATIENT_TRIES)) return { status: answer.status, body: answer.body }
      await sleep(1000 * (answer?.retryAfter ?? 1))
    }
  }
}

/** One sample of a Prometheus text exposition (`name{labels} value`), summed over the label sets matching `labels`. */
export function metricValue (text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0
  for (const line of text.split('\n')) {
    if (!line.startsWith(name) || (line[name.length] !== ' ' && line[name.length] !== '{')) continue
    if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue
    sum += Number(line.slice(line.lastIndexOf(' ') + 1))
  }
  return sum
}

/** Each value of the load average rounded to hundredths (1, 5 and 15 minutes). */
export const rounded = (values: number[]) => values.map((v) => Math.round(v * 100) / 100)
