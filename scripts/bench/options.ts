// Command-line options of the load generator: parsed with node:util, checked, with a --help text.
import { parseArgs } from 'node:util'
import { availableParallelism } from 'node:os'

export const TRANSPORTS = ['uws', 'fastify', 'socketio', 'seed', 'centrifugo'] as const
export type TransportKind = typeof TRANSPORTS[number]

/** What --fail kills: the leader broker of the busiest messages partition, a Redis primary, or a started instance. */
export const FAILURES = ['broker', 'redis', 'instance'] as const
export type FailureKind = typeof FAILURES[number]
export interface FailPlan { what: FailureKind, /** seconds into the measured window */ at: number }

export interface BenchOptions {
  connections: number
  channels: number
  /** messages per second; several values run one step each (a sweep) */
  rates: number[]
  duration: number
  size: number
  transport: TransportKind
  /** base URL of a running deployment (the first of --target's list); undefined starts server children */
  target?: string
  /** WebSocket URL with --target (derived from it when absent; the first of --ws-url's list) */
  wsUrl?: string
  /** every API URL of --target (a comma-separated list: one per instance of a running deployment) */
  targets?: string[]
  /** every WebSocket URL of --ws-url, one per --target URL */
  wsUrls?: string[]
  /** switchboard instances started (all roles), or the number of --target URLs; sockets and posts are spread over them */
  instances: number
  /** a failure injected during the measured window (--fail what@seconds) */
  fail?: FailPlan
  token?: string
  workers: number
  concurrency: number
  /** ms without a new delivery after posting before the rest are counted lost */
  drainQuiet: number
  /** seconds of unstamped posts at the step's rate before the measured window (0: measure from cold) */
  warmup: number
  compare: boolean
  /** the p99 (ms) a step must stay under to count as sustained in a sweep */
  sloP99: number
  json?: string
  /** folder for the server child's CPU profiles */
  profile?: string
  quiet: boolean
}

export const usage = `Usage: npm run bench -- [options]

  --connections N   WebSocket connections (default 500)
  --channels C      channels they are spread over, round robin (default 20)
  --rate R[,R2…]    messages posted per second, spread over the channels (default 200);
                    several values run one step each and report the highest one sustained
  --duration D      seconds of posting per step (default 10)
  --size B          message content length in bytes (default 64, at least 48)
  --transport T     uws (WS_PORT, default) | fastify (@fastify/websocket on the API port)
                    | socketio (reference: Socket.IO + Redis adapter)
                    | seed (reference: the seed's design, socket.io + MongoDB + Kafka + Redis;
                      needs KAFKA_BROKERS, REDIS_URL and MONGO_URL)
                    | centrifugo (reference: Centrifugo v6.9.1, memory engine, or Redis engine
                      when REDIS_URL is set; built into ~/.cache/switchboard-services when missing)
  --target URL      a running deployment's API base URL (default: start an embedded switchboard,
                    or real services when KAFKA_BROKERS / REDIS_URL / MONGO_URL are set)
                    A comma-separated list names the instances of one deployment: sockets and posts
                    are spread over them as with --instances
  --ws-url URL      its WebSocket URL (default: port 5002 of the target host for uws, the API port for fastify);
                    with a --target list, a list of as many
  --instances N     switchboard servers started (all roles, each its own ports and INSTANCE_ID, the
                    services of the environment: the real ones when N > 1); sockets round robin by
                    connection, posts round robin by post, CPU summed and per instance (default 1)
  --fail W@S        a failure S seconds into the measured window (one --rate), reported apart:
                    broker    SIGKILL the leader of the busiest messages partition, restart it 20 s later
                    redis     SIGKILL a Redis Cluster primary, restart it 20 s later
                              (both: the cluster of scripts/services.sh up --cluster, same environment)
                    instance  SIGKILL the first started instance (1/N of the sockets: half with
                              --instances 2): they reconnect with jitter to the survivors and
                              resubscribe with since; recovered: false reloads history over HTTP
  --token JWT       bearer token for posts and ?token= for sockets when auth is on
  --workers W       worker threads holding the connections (default ${defaultWorkers()})
  --concurrency K   posts in flight at most (default 64)
  --drain-quiet MS  after posting, wait this long without a new delivery before counting the rest lost (default 3000)
  --warmup S        first post at the step's rate for S seconds, unstamped (not timed, not counted), then
                    measure: the server's and the generator's JIT and connection pools start warm (default 0)
  --compare         same workload against switchboard uws and fastify and each reference: socketio
                    (needs Redis at REDIS_URL or 127.0.0.1:6379), seed (when the three service URLs
                    are set) and centrifugo; prints ratios of uws against each
  --slo-p99 MS      p99 a sweep step must stay under to count as sustained (default 50)
  --json FILE       write the results as JSON
  --profile DIR     CPU-profile the started server during each run (inspector), profiles in DIR;
                    summarise one with: npx tsx scripts/bench/profile.ts FILE
  --quiet           no live progress line
  --help`

/** Worker threads holding the connections: 2–4 by core count (every bench of this folder). */
export function defaultWorkers (): number { return Math.max(2, Math.min(4, availableParallelism())) }

export class OptionsError extends Error {}

/** An integer option within [min, max], or its default; an OptionsError naming it otherwise. */
export const integer = (name: string, raw: string | undefined, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number => {
  if (raw === undefined) return fallback
  const n = Number(raw)
  if (!Number.isInteger(n) || n < min || n > max) throw new OptionsError(`--${name} must be an integer from ${min} to ${max} (got ${JSON.stringify(raw)})`)
  return n
}

const url = (name: string, raw: string | undefined, protocols: string[]): string | undefined => {
  if (raw === undefined) return undefined
  let parsed: URL
  try { parsed = new URL(raw) } catch { throw new OptionsError(`--${name} must be a URL (got ${JSON.stringify(raw)})`) }
  if (!protocols.includes(parsed.protocol)) throw new OptionsError(`--${name} must be a ${protocols.join(' or ')} URL (got ${JSON.stringify(raw)})`)
  return raw.replace(/\/+$/, '')
}

/** What `flags` read from argv: each string option's value, and whether a boolean one is set. */
export interface Flags { str (name: string): string | undefined, on (name: string): boolean }

/**
 * argv (without node and the script) against these options, strictly, with `--json FILE`,
 * `--quiet` and `--help`/`-h` added: 'help' when asked; an unknown or malformed option throws an
 * OptionsError naming it. Shared by the benchmarks' option parsers.
 */
export function flags (argv: string[], strings: string[], booleans: string[] = []): Flags | 'help' {
  let values: Record<string, string | boolean | undefined>
  try {
    values = parseArgs({
      args: argv,
      strict: true,
      options: {
        ...Object.fromEntries(strings.map((name) => [name, { type: 'string' as const }])),
        ...Object.fromEntries(booleans.map((name) => [name, { type: 'boolean' as const }])),
        json: { type: 'string' },
        quiet: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' }
      }
    }).values
  } catch (err) {
    throw new OptionsError((err as Error).message)
  }
  if (values.help) return 'help'
  return { str: (name) => values[name] as string | undefined, on: (name) => values[name] === true }
}

/** Parses argv (without node and the script); throws OptionsError naming the bad option. */
export function parseOptions (argv: string[]): BenchOptions | 'help' {
  const parsed = flags(argv, ['connections', 'channels', 'rate', 'duration', 'size', 'transport', 'target', 'ws-url', 'instances', 'fail', 'token', 'workers', 'concurrency', 'drain-quiet', 'warmup', 'slo-p99', 'profile'], ['compare'])
  if (parsed === 'help') return 'help'
  const { str, on } = parsed
  const transport = str('transport') ?? 'uws'
  if (!(TRANSPORTS as readonly string[]).includes(transport)) throw new OptionsError(`--transport must be one of ${TRANSPORTS.join(', ')} (got ${JSON.stringify(transport)})`)
  const targets = list(str('target'))?.map((t) => url('target', t, ['http:', 'https:'])!)
  const wsUrls = list(str('ws-url'))?.map((w) => url('ws-url', w, ['ws:', 'wss:', 'http:', 'https:'])!)
  const rates = (str('rate') ?? '200').split(',').map((r) => integer('rate', r.trim(), 0, 1, 1_000_000))
  const options: BenchOptions = {
    connections: integer('connections', str('connections'), 500, 1, 200_000),
    channels: integer('channels', str('channels'), 20, 1, 100_000),
    rates,
    duration: integer('duration', str('duration'), 10, 1, 3600),
    size: integer('size', str('size'), 64, 48, 65_536),
    transport: transport as TransportKind,
    target: targets?.[0],
    wsUrl: wsUrls?.[0],
    ...(targets && targets.length > 1 ? { targets } : {}),
    ...(wsUrls && wsUrls.length > 1 ? { wsUrls } : {}),
    instances: integer('instances', str('instances'), targets?.length ?? 1, 1, 64),
    ...(str('fail') !== undefined ? { fail: failPlan(str('fail')!) } : {}),
    token: str('token'),
    workers: integer('workers', str('workers'), defaultWorkers(), 1, 64),
    concurrency: integer('concurrency', str('concurrency'), 64, 1, 10_000),
    drainQuiet: integer('drain-quiet', str('drain-quiet'), 3000, 100, 600_000),
    warmup: integer('warmup', str('warmup'), 0, 0, 600),
    compare: on('compare'),
    sloP99: integer('slo-p99', str('slo-p99'), 50, 1, 600_000),
    json: str('json'),
    profile: str('profile'),
    quiet: on('quiet')
  }
  if (options.channels > options.connections) throw new OptionsError(`--channels (${options.channels}) must not exceed --connections (${options.connections}): every channel needs a subscriber`)
  if (options.compare && options.target) throw new OptionsError('--compare starts its own servers: it cannot be combined with --target')
  if (options.wsUrl && !options.target) throw new OptionsError('--ws-url needs --target')
  if (options.target && options.transport === 'centrifugo') throw new OptionsError('--transport centrifugo starts its own Centrifugo (it needs the API key it generates): it cannot be combined with --target')
  const named = targets?.length ?? 0
  if (named > 1 && options.instances !== named) throw new OptionsError(`--instances (${options.instances}) must match the ${named} --target URLs`)
  if (wsUrls && wsUrls.length !== Math.max(1, named)) throw new OptionsError(`--ws-url names ${wsUrls.length} URLs for ${Math.max(1, named)} --target URLs: one each`)
  if (options.instances > 1 && !options.target && options.transport !== 'uws' && options.transport !== 'fastify') throw new OptionsError(`--instances starts switchboard instances: --transport uws or fastify (got ${options.transport})`)
  if (options.instances > 1 && options.compare) throw new OptionsError('--instances cannot be combined with --compare')
  if (options.fail) {
    const { what, at } = options.fail
    if (at >= options.duration) throw new OptionsError(`--fail ${what}@${at} must fall inside the measured window (--duration ${options.duration})`)
    if (options.rates.length > 1 || options.compare) throw new OptionsError('--fail runs one step: one --rate, no --compare')
    if (what === 'instance' && options.instances < 2) throw new OptionsError('--fail instance needs --instances 2 or more: the survivors take the reconnecting sockets')
    if (what === 'instance' && options.target) throw new OptionsError('--fail instance kills an instance this tool started: it cannot be combined with --target')
    if (options.transport !== 'uws' && options.transport !== 'fastify') throw new OptionsError(`--fail measures switchboard: --transport uws or fastify (got ${options.transport})`)
  }
  return options
}

/** A comma-separated option value as its items (undefined when absent). */
function list (raw: string | undefined): string[] | undefined {
  return raw?.split(',').map((item) => item.trim()).filter(Boolean)
}

function failPlan (raw: string): FailPlan {
  const match = /^(\w+)@(\d+)$/.exec(raw.trim())
  if (!match || !(FAILURES as readonly string[]).includes(match[1])) throw new OptionsError(`--fail must be ${FAILURES.join('|')}@SECONDS, e.g. broker@10 (got ${JSON.stringify(raw)})`)
  return { what: match[1] as FailureKind, at: Number(match[2]) }
}
