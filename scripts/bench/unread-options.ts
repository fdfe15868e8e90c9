// Command-line options of `npm run bench:unread` (unread.ts): parsed with node:util, checked, with a --help text.
import { OptionsError, flags, integer } from './options.ts'

export interface UnreadOptions {
  /** channels the reader is in, each with a read marker near its start */
  channels: number
  /** messages each channel is filled with (bulk, through the log) before the first measurement */
  messages: number
  /** what `grown` of the channels are grown to before the second measurement */
  growTo: number
  /** how many channels grow (0: one measurement only) */
  grown: number
  /** GET /api/users/me/unread per second */
  rate: number
  /** seconds of each measurement */
  duration: number
  /** seconds of requests at the rate before each measurement, not timed */
  warmup: number
  /** seconds to wait for the consumers to index a fill before giving up */
  indexTimeout: number
  json?: string
  quiet: boolean
}

export const unreadUsage = `Usage: npm run bench:unread -- [options]

Measures GET /api/users/me/unread for one user in many channels, on the real services
(KAFKA_BROKERS, REDIS_URL, MONGO_URL), then again once some channels hold far more history.

  --channels N       channels the user is in, a read marker near the start of each (default 100)
  --messages M       messages in each channel, produced to the log in bulk (default 1000)
  --grow-to G        messages the grown channels then hold (default 100000)
  --grown K          channels grown to G before the second measurement; 0 skips it (default 10)
  --rate R           requests per second (default 50)
  --duration D       seconds of each measurement (default 30)
  --warmup S         seconds of untimed requests before each measurement (default 2)
  --index-timeout S  seconds to wait for the consumers to index a fill (default 1800)
  --json FILE        write the results as JSON
  --quiet            no progress lines
  --help`

/** Parses argv (without node and the script); throws OptionsError naming the bad option. */
export function parseUnreadOptions (argv: string[]): UnreadOptions | 'help' {
  const parsed = flags(argv, ['channels', 'messages', 'grow-to', 'grown', 'rate', 'duration', 'warmup', 'index-timeout'])
  if (parsed === 'help') return 'help'
  const { str, on } = parsed
  const options: UnreadOptions = {
    channels: integer('channels', str('channels'), 100, 1, 10_000),
    messages: integer('messages', str('messages'), 1000, 1, 10_000_000),
    growTo: integer('grow-to', str('grow-to'), 100_000, 1, 100_000_000),
    grown: integer('grown', str('grown'), 10, 0, 10_000),
    rate: integer('rate', str('rate'), 50, 1, 10_000),
    duration: integer('duration', str('duration'), 30, 1, 3600),
    warmup: integer('warmup', str('warmup'), 2, 0, 600),
    indexTimeout: integer('index-timeout', str('index-timeout'), 1800, 1, 86_400),
    json: str('json'),
    quiet: on('quiet')
  }
  if (options.grown > options.channels) throw new OptionsError(`--grown (${options.grown}) must not exceed --channels (${options.channels})`)
  if (options.grown > 0 && options.growTo <= options.messages) throw new OptionsError(`--grow-to (${options.growTo}) must exceed --messages (${options.messages}) when channels grow (--grown 0 skips growing)`)
  return options
}
