// Command-line options of `npm run bench:markers` (markers.ts): parsed with node:util, checked, with a --help text.
import { OptionsError, defaultWorkers, flags, integer } from './options.ts'

export interface MarkersOptions {
  /** users, one WebSocket each */
  users: number
  /** users per channel */
  group: number
  /** messages posted per second over HTTP, spread over the channels */
  rate: number
  /** read markers sent per second (PUT /api/channels/:id/read), spread over the users */
  markers: number
  duration: number
  workers: number
  /** posts in flight at most */
  concurrency: number
  /** ms without a new delivery after posting before the rest are counted missing */
  drainQuiet: number
  /** seconds the durability check waits without progress for the store to catch up */
  settle: number
  json?: string
  quiet: boolean
}

export const markersUsage = `Usage: npm run bench:markers -- [options]

Read markers at a steady rate from users on WebSockets, beside messages posted over HTTP, on the
real services (KAFKA_BROKERS, REDIS_URL, MONGO_URL); then checks that every marker answered 204
is in the store and reports its writes per second and the messages' delivery latency.

  --users N          users, one WebSocket each (default 5000)
  --group G          users per channel, receipts on (default 10)
  --rate R           messages posted per second over HTTP (default 500)
  --markers M        read markers per second, each user marking the latest message it received (default 2000)
  --duration D       seconds of posting and marking (default 30)
  --workers W        worker threads holding the sockets and sending the markers (default ${defaultWorkers()})
  --concurrency K    posts in flight at most (default 64)
  --drain-quiet MS   after posting, wait this long without a new delivery (default 3000)
  --settle S         the durability check waits up to S seconds without progress for the store (default 30)
  --json FILE        write the results as JSON
  --quiet            no progress lines
  --help`

/** Parses argv (without node and the script); throws OptionsError naming the bad option. */
export function parseMarkersOptions (argv: string[]): MarkersOptions | 'help' {
  const parsed = flags(argv, ['users', 'group', 'rate', 'markers', 'duration', 'workers', 'concurrency', 'drain-quiet', 'settle'])
  if (parsed === 'help') return 'help'
  const { str, on } = parsed
  const options: MarkersOptions = {
    users: integer('users', str('users'), 5000, 1, 200_000),
    group: integer('group', str('group'), 10, 1, 100_000),
    rate: integer('rate', str('rate'), 500, 1, 100_000),
    markers: integer('markers', str('markers'), 2000, 1, 100_000),
    duration: integer('duration', str('duration'), 30, 1, 3600),
    workers: integer('workers', str('workers'), defaultWorkers(), 1, 64),
    concurrency: integer('concurrency', str('concurrency'), 64, 1, 10_000),
    drainQuiet: integer('drain-quiet', str('drain-quiet'), 3000, 100, 600_000),
    settle: integer('settle', str('settle'), 30, 1, 3600),
    json: str('json'),
    quiet: on('quiet')
  }
  if (options.group > options.users) throw new OptionsError(`--group (${options.group}) must not exceed --users (${options.users})`)
  if (options.workers > options.users) throw new OptionsError(`--workers (${options.workers}) must not exceed --users (${options.users})`)
  return options
}

/** The channel index of each user: users 0..G-1 share channel 0, and so on. */
export const channelOf = (user: number, group: number) => Math.floor(user / group)
