// The one place that reads process.env: every setting, its type and default, checked at start.
import { Type, type Static } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import { readFileSync } from 'node:fs'
import { parseBlocklist } from './schemas/blocklist.ts'
import { publicKeyAlgorithms } from './schemas/public-key.ts'

// The settings by subject. Each one's description, default and examples are its reference:
// scripts/config-docs.ts writes docs/configuration.md and .env.example from them (npm run docs:config).
const processSettings = {
  HOST: Type.String({ default: '0.0.0.0', minLength: 1, description: 'interface to listen on' }),
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 5001, description: 'HTTP API port (also serves /ws through @fastify/websocket)' }),
  WS_PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 5002, description: 'uWebSockets.js fanout port (path /ws)' }),
  LOG_FORMAT: Type.Union([Type.Literal('auto'), Type.Literal('json'), Type.Literal('pretty')], { default: 'auto', description: 'auto: human-readable (pino-pretty) when stdout is a terminal and pino-pretty (a development dependency) is installed, JSON lines otherwise (production, pipes, log shippers); json; pretty' }),
  LOG_LEVEL: Type.Union(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)), { default: 'info', description: 'pino log level' }),
  INSTANCE_ID: Type.String({ default: '', description: 'names this instance in broadcast consumer groups, the connection lease and logs; random when empty. Give each instance its own: a process whose INSTANCE_ID another live process holds (it renewed its lease within one renew interval) refuses to start' }),
  ROLES: Type.String({ default: 'api,fanout,workers', pattern: '^ *(api|fanout|workers)( *, *(api|fanout|workers))* *$', examples: ['api,fanout', 'workers'], description: 'what this process runs, comma-separated: api (HTTP routes, producing), fanout (WebSocket servers, broadcast handlers), workers (shared handlers: store, cache, recovery log, mentions); see docs/operations.md' }),
  SHUTDOWN_GRACE_MS: Type.Integer({ minimum: 0, default: 10000, description: 'time allowed for a graceful shutdown (SIGINT, SIGTERM); past it the process exits regardless' }),
  PLUGIN_TIMEOUT_MS: Type.Integer({ minimum: 0, default: 60000, description: 'how long start-up waits for each step (a plugin, or a dependency in onReady: Kafka creating topics and joining groups, Redis connecting, MongoDB\'s first ping) before it fails naming the step; slow steps are logged every 5 s meanwhile; 0 = no limit' }),
  SHED_EVENT_LOOP_DELAY_MS: Type.Integer({ minimum: 0, default: 1000, description: 'load shedding: while the event loop\'s once-a-second check last ran more than this late, HTTP requests get 503 with Retry-After and /ready fails (/health and /metrics still answer); 0 = off' }),
  SHED_EVENT_LOOP_UTILIZATION: Type.Number({ minimum: 0, maximum: 1, default: 0.98, description: 'load shedding: the same while the event loop was busier than this fraction of the last second; 0 = off' }),
  SHED_RETRY_AFTER_SECONDS: Type.Integer({ minimum: 1, default: 2, description: 'the Retry-After of a shed request' })
}

const kafkaSettings = {
  KAFKA_BROKERS: Type.String({ default: '', examples: ['127.0.0.1:9092'], description: 'comma-separated host:port list; empty = embedded event log' }),
  KAFKA_SSL: Type.Boolean({ default: false, description: 'TLS to the brokers (managed clusters require it), verified against the system CAs, or KAFKA_SSL_CA_FILE' }),
  KAFKA_SSL_CA_FILE: Type.String({ default: '', examples: ['/etc/ssl/kafka-ca.pem'], description: 'a PEM file of the CA certificates to verify the brokers with, instead of the system CAs (with KAFKA_SSL=true)' }),
  KAFKA_SASL_MECHANISM: Type.Union([Type.Literal(''), Type.Literal('plain'), Type.Literal('scram-sha-256'), Type.Literal('scram-sha-512')], { default: '', description: 'SASL authentication with the brokers: plain, scram-sha-256 or scram-sha-512, with KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD; empty = none. PLAIN sends the password as it is: use it with KAFKA_SSL' }),
  KAFKA_SASL_USERNAME: Type.String({ default: '', description: 'the SASL user (with KAFKA_SASL_MECHANISM)' }),
  KAFKA_SASL_PASSWORD: Type.String({ default: '', description: 'the SASL password (with KAFKA_SASL_MECHANISM); never logged' }),
  KAFKA_CLIENT_ID: Type.String({ default: 'switchboard', description: 'the client id Kafka sees' }),
  KAFKA_TOPIC_PREFIX: Type.String({ default: '', description: 'prepended to every topic and consumer group name' }),
  KAFKA_PARTITIONS: Type.Integer({ minimum: 1, default: 3, description: 'partitions of the topics switchboard creates (they bound how many workers instances do useful work)' }),
  KAFKA_LINGER_MS: Type.Integer({ minimum: 0, maximum: 100, default: 5, description: 'under load, how long the producer waits after each answer from Kafka before its next request, so that the posts arriving meanwhile share it (0 = never; an idle instance never waits). 5 ms as Kafka\'s own producer since 4.0 (linger.ms, which it counts from a batch\'s first record) and librdkafka' }),
  KAFKA_CONSUME_LINGER_MS: Type.Integer({ minimum: 0, maximum: 1000, default: 50, description: 'under load, how long the shared handlers (store, cache, recovery log, mentions, reactions, offline notifications) let records gather before their next fetch (0 = never; the delivery path and an idle instance never wait): Kafka\'s fetch.min.bytes (1 MiB) with fetch.max.wait.ms. History lags delivery by up to this much' }),
  BROADCAST_MAX_LAG: Type.Integer({ minimum: 0, default: 10000, description: 'a broadcast consumer (the delivery path: messages to this instance\'s sockets) with more records than this still to handle on a partition is behind: /ready fails naming it and switchboard_broadcast_behind shows it until it catches up; 0 = no limit on lag' }),
  BROADCAST_MAX_AGE_MS: Type.Integer({ minimum: 0, default: 5000, description: 'a broadcast consumer is behind, as with BROADCAST_MAX_LAG, once records it has yet to handle have waited this long (measured from the /ready or /metrics read that first saw them pending, so at most one read interval late); 0 = no limit on age' }),
}

const storageSettings = {
  REDIS_URL: Type.String({ default: '', examples: ['redis://127.0.0.1:6379'], description: 'redis:// URL of one Redis (or a primary with replicas); empty = embedded cache. Set this or REDIS_CLUSTER_NODES, not both' }),
  REDIS_CLUSTER_NODES: Type.String({ default: '', pattern: '^( *[^ ,:]+:[0-9]+ *(, *[^ ,:]+:[0-9]+ *)*)?$', examples: ['10.0.0.1:7001,10.0.0.2:7002,10.0.0.3:7003'], description: 'a Redis Cluster instead of REDIS_URL: comma-separated host:port of some of its nodes (any of them; the rest is discovered). Every key a script or transaction touches shares one hash slot (docs/redis-keys.md)' }),
  REDIS_KEY_PREFIX: Type.String({ default: 'sb:', description: 'prepended to every Redis key' }),
  REDIS_WAIT_REPLICAS: Type.Integer({ minimum: 0, default: 0, description: 'replicas that must acknowledge the cache handler\'s writes (Redis WAIT, one per primary a batch wrote to) before its Kafka offsets are committed; fewer is a retry. 1 on a Redis Cluster with replicas (scripts/services.sh env --cluster prints it), so a failover loses no cache write; 0 = no WAIT (one Redis, a cluster without replicas) (docs/real-services.md#cache-writes-and-replicas)' }),
  REDIS_WAIT_TIMEOUT_MS: Type.Integer({ minimum: 1, maximum: 1500, default: 500, description: 'how long a WAIT waits for REDIS_WAIT_REPLICAS acknowledgements before the batch fails and is retried (below the 2 s command timeout)' }),
  MONGO_URL: Type.String({ default: '', examples: ['mongodb://127.0.0.1:27017', 'mongodb://127.0.0.1:27017/chat'], description: 'mongodb:// or mongodb+srv:// URL; a database in its path (mongodb://host/chat, as Atlas URIs are written) is the one used; empty = embedded store' }),
  MONGO_DB: Type.String({ default: '', description: 'database name when MONGO_URL names none (default switchboard); naming another one than MONGO_URL is an error naming both' }),
  MONGO_BULK_MAX: Type.Integer({ minimum: 1, maximum: 100000, default: 32, description: 'most statements in one bulk write command: a larger batch (a consumer catching up) is written as sequential commands of at most this many. FerretDB on PostgreSQL holds a connection per statement that matches a document until the command ends and hangs when commands together want more than its pool (docs/known-limits.md); on MongoDB each command is one round trip' }),
  CACHE_RECENT: Type.Integer({ minimum: 1, maximum: 10000, default: 100, description: 'messages kept per channel in the cache' }),
  CACHE_TTL_SECONDS: Type.Integer({ minimum: 1, default: 3600, description: 'cache entry lifetime, refreshed on every write' }),
  CACHE_TOMBSTONES: Type.Integer({ minimum: 1, default: 1000, description: 'ids of deleted messages the cache keeps per channel, so a history fill racing a deletion cannot bring it back (lowest ids dropped first; metric switchboard_cache_tombstones_trimmed_total)' }),
  CACHE_PARKED: Type.Integer({ minimum: 1, default: 100, description: 'edits and reactions the cache keeps per channel for messages it does not hold, for the fill that brings them (lowest ids dropped first; metric switchboard_cache_parked_trimmed_total)' }),
  CHANNEL_CACHE_MS: Type.Integer({ minimum: 0, default: 300000, description: 'backstop lifetime of an instance\'s copy of a channel: changes reach every instance through the channels topic at once; this bounds how long a change whose announcement failed (a 503) can go unseen (0 = always read the store)' })
}

const limitSettings = {
  BODY_LIMIT: Type.Integer({ minimum: 1024, default: 65536, description: 'HTTP body limit in bytes (413 above)' }),
  MESSAGE_MAX_LENGTH: Type.Integer({ minimum: 1, default: 4000, description: 'longest message content in characters (code points)' }),
  PINS_MAX: Type.Integer({ minimum: 1, maximum: 1000, default: 50, description: 'pinned messages per channel: a pin beyond them is a 409 until one is unpinned (docs/chat-state.md)' }),
  WS_MAX_PAYLOAD: Type.Integer({ minimum: 256, default: 16384, description: 'largest accepted client frame in bytes (frame_too_large error frame above; above 4 times this the socket is closed)' }),
  WS_MAX_BACKPRESSURE: Type.Integer({ minimum: 1024, default: 1048576, description: 'bytes buffered for one slow client before it is closed with 4008' }),
  // uWS accepts 0 (never) or at least 8 seconds; anything else would abort the process.
  WS_IDLE_TIMEOUT: Type.Union([Type.Literal(0), Type.Integer({ minimum: 8 })], { default: 120, description: 'seconds without a frame before a socket is closed: 0 (never) or at least 8. Clients ping; the server pings too, and a client answering no ping is closed (4408 on the API port, 1006 on the uWS port)' }),
  WS_MAX_SUBSCRIPTIONS: Type.Integer({ minimum: 1, default: 100, description: 'subscriptions per WebSocket connection, the personal channel and status: watches included (too_many_subscriptions above)' }),
  WS_MAX_CONNECTIONS: Type.Integer({ minimum: 0, default: 0, description: 'WebSocket connections on this instance, both ports (HTTP 503 on upgrade above); 0 = automatic: the open-file soft limit read at start minus a reserve of a tenth (at least 256), logged at start' }),
  HTTP_MAX_CONNECTIONS: Type.Integer({ minimum: 0, default: 0, description: 'HTTP connections on the API port, upgraded WebSockets aside (those count in WS_MAX_CONNECTIONS); past it the connection idle the longest is closed to make room, so /health and upgrades still answer while idle sockets pile up (a new one is refused only when every one is busy with a request); 0 = automatic: half of the reserve WS_MAX_CONNECTIONS leaves below the open-file limit (128 for limits up to 2560), logged at start' }),
  WS_MAX_CONNECTIONS_PER_USER: Type.Integer({ minimum: 0, default: 20, description: 'WebSocket connections per user on one instance (429 on upgrade above); 0 = unlimited' }),
  WS_FRAME_RATE: Type.Integer({ minimum: 0, default: 20, description: 'client frames per second per WebSocket connection once its burst is spent (rate_limited error frame above, close 4029 past another burst); 0 = no limit' }),
  WS_CHURN_WINDOW_MS: Type.Integer({ minimum: 0, maximum: 60000, default: 1000, description: 'a subscription is reported (a `subscribed` record on the connections topic, a presence join) once it has lasted this long; one undone sooner produces no record and no presence event, so subscribe/unsubscribe churn costs no Kafka writes (0 = report at once)' }),
  FANOUT_SELECTIVE: Type.Boolean({ default: false, description: 'Kafka only: the fanout reads only the partitions of messages in which its sockets subscribe to a channel, resuming one at the log\'s end on its first subscribe (the shared recovery log covers a resubscribe\'s window before it) and pausing it when its last socket leaves; false reads every partition. See docs/scaling.md' }),
  WS_FRAME_BURST: Type.Integer({ minimum: 1, default: 200, description: 'client frames a WebSocket connection may send at once (a reconnect resubscribing to every channel)' }),
  READ_STATE_LINGER_MS: Type.Integer({ minimum: 0, maximum: 5000, default: 1000, description: 'under load, how long the read-state index handler (the unread counters) lets messages gather before its next fetch (Kafka only): it writes each channel\'s counter once per batch, so longer batches mean fewer store writes (on FerretDB an upsert costs about 17 inserts). Unread counts lag the log by up to this much' }),
  UNREAD_MAX: Type.Integer({ minimum: 1, maximum: 100000, default: 999, description: 'unread and mention counts of GET /api/users/me/unread stop here (`capped: true` above): the cost of a count is bounded by it, never by the channel\'s history (docs/chat-state.md)' }),
  RECEIPTS_MAX_READERS: Type.Integer({ minimum: 0, default: 100, description: 'read receipts (GET /api/messages/:id/receipts, receipt.read events) only in channels where at most this many users hold a read marker; 0 = receipts off' }),
  RATE_LIMIT_MAX: Type.Integer({ minimum: 0, default: 120, description: 'writes per user (per IP when anonymous) per RATE_LIMIT_WINDOW; 0 = no limit (benchmarks)' }),
  RATE_LIMIT_WINDOW: Type.String({ default: '1 minute', pattern: '^[0-9]+ ?(ms|s|sec|secs|second|seconds|m|min|mins|minute|minutes|h|hour|hours)?$', examples: ['60000', '30s', '1h'], description: 'the rate limit window: milliseconds as a number, or a duration' })
}

const securitySettings = {
  JWT_SECRET: Type.String({ default: '', description: 'HS256 secret, at least 32 characters; turns auth on (set this or JWT_PUBLIC_KEY, not both)' }),
  JWT_PUBLIC_KEY: Type.String({ default: '', description: 'RSA or EC public key (PEM; one line with literal \\n escapes works) for RS256/ES256 tokens; turns auth on' }),
  JWT_ISSUER: Type.String({ default: '', description: 'when set, tokens must carry this iss' }),
  JWT_AUDIENCE: Type.String({ default: '', description: 'when set, tokens must carry this aud' }),
  MODERATION_BLOCKLIST: Type.String({ default: '', examples: ['spam,buy now,/fr[e3]{2} m[o0]ney/i'], description: 'comma-separated words (whole words, any case) and /regex/flags entries (a / inside escaped as \\/); a message matching one is refused with 422' }),
  SERVER_API_KEYS: Type.String({ default: '', description: 'comma-separated API keys (at least 24 characters each) for /api/server/* (publish, broadcast), sent as X-API-Key; empty = server API refused (401)' }),
  ADMIN_API_KEYS: Type.String({ default: '', description: 'comma-separated API keys (at least 24 characters each) for /api/admin/* (disconnect a user, list connections, the /admin dashboard\'s stats), sent as X-API-Key; empty = admin API refused (401) and no /admin page (404)' })
}

const recoverySettings = {
  RECOVERY_BUFFER: Type.Integer({ minimum: 1, maximum: 100000, default: 100, description: 'message events each instance keeps per channel for reconnect recovery' }),
  RECOVERY_CHANNELS: Type.Integer({ minimum: 1, default: 1000, description: 'channels each instance keeps a recovery buffer for (least recently active dropped first)' }),
  RECOVERY_BUFFER_BYTES: Type.Integer({ minimum: 0, default: 52428800, description: 'bytes of event frames each instance keeps for reconnect recovery, all channels together (least recently active dropped first; metric switchboard_recovery_buffer_bytes); default 50 MiB' }),
  RECOVERY_LOG: Type.Integer({ minimum: 1, maximum: 100000, default: 200, description: 'message events kept per channel in the shared recovery log (Redis)' }),
  RECOVERY_TTL_SECONDS: Type.Integer({ minimum: 1, default: 3600, description: 'lifetime of a quiet channel\'s shared recovery log' }),
  PRESENCE_TTL_SECONDS: Type.Integer({ minimum: 3, default: 300, description: 'a user stays present this long after the last refresh (refreshed every third of it while connected), so the users of a crashed instance leave within it' }),
  CONNECTION_LEASE_SECONDS: Type.Integer({ minimum: 1, default: 15, description: 'each instance renews a lease on its WebSocket connections every third of this; once it lapses (the instance died) another instance emits `disconnected` (instance_lost) for them and their users go offline' })
}

/** The settings by subject, in the order docs/configuration.md and .env.example list them. */
export const configSections = {
  'Process, logs and load shedding': processSettings,
  'Kafka (the event log)': kafkaSettings,
  'Redis, MongoDB and caches': storageSettings,
  'Limits and rate limits': limitSettings,
  'Security: auth, moderation, API keys': securitySettings,
  'Reconnect recovery, presence and connections': recoverySettings
}

export const ConfigSchema = Type.Object({
  ...processSettings,
  ...kafkaSettings,
  ...storageSettings,
  ...limitSettings,
  ...securitySettings,
  ...recoverySettings
})

export type Config = Static<typeof ConfigSchema>

export const ROLES = ['api', 'fanout', 'workers'] as const
export type Role = typeof ROLES[number]

/** The roles named in ROLES, as a set. */
export function parseRoles (roles: string): Set<Role> {
  return new Set(roles.split(',').map((r) => r.trim()).filter((r): r is Role => (ROLES as readonly string[]).includes(r)))
}

export class ConfigError extends Error {
  constructor (readonly variable: string, detail: string) {
    super(`invalid configuration: ${variable} ${detail}`)
    this.name = 'ConfigError'
  }
}

/** Reads and checks the environment; throws a ConfigError naming the first bad variable. */
export function loadConfig (env: NodeJS.ProcessEnv = process.env, overrides: Partial<Config> = {}): Config {
  const raw: Record<string, unknown> = {}
  for (const key of Object.keys(ConfigSchema.properties)) {
    const value = env[key]
    if (value !== undefined && value !== '') raw[key] = value
  }
  const candidate = Value.Convert(ConfigSchema, Value.Default(ConfigSchema, raw)) as Record<string, unknown>
  Object.assign(candidate, overrides)
  const first = Value.Errors(ConfigSchema, candidate).First()
  if (first) {
    const variable = first.path.replace(/^\//, '') || 'environment'
    const value = variable in raw ? ` (got ${JSON.stringify(raw[variable])})` : ''
    throw new ConfigError(variable, `${first.message}${value}`)
  }
  for (const [variable, check] of Object.entries(semanticChecks)) {
    const detail = check(candidate as Config)
    if (detail) throw new ConfigError(variable, detail)
  }
  const config = candidate as Config
  // The database MONGO_URL names wins (as Atlas URIs are written); MONGO_DB only fills in for a URL without one.
  config.MONGO_DB = (config.MONGO_URL && mongoDatabase(config.MONGO_URL)) || config.MONGO_DB || DEFAULT_MONGO_DB
  return config
}

const DEFAULT_MONGO_DB = 'switchboard'

/**
 * The database a MongoDB connection string names in its path (`mongodb://h1,h2/chat?…` → `chat`),
 * '' when none; undefined when it is not a mongodb:// or mongodb+srv:// URL.
 */
export function mongoDatabase (url: string): string | undefined {
  const match = /^mongodb(?:\+srv)?:\/\/[^/?#]+(?:\/([^?#]*))?/.exec(url)
  if (!match) return undefined
  try { return decodeURIComponent(match[1] ?? '') } catch { return match[1] }
}

/** Checks a schema cannot express: keys must parse, patterns must compile. A message, or undefined. */
const semanticChecks: Record<string, (config: Config) => string | undefined> = {
  KAFKA_SASL_MECHANISM: ({ KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD }) => {
    if (KAFKA_SASL_MECHANISM && !(KAFKA_SASL_USERNAME && KAFKA_SASL_PASSWORD)) return `is ${KAFKA_SASL_MECHANISM}: set KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD too`
    if (!KAFKA_SASL_MECHANISM && (KAFKA_SASL_USERNAME || KAFKA_SASL_PASSWORD)) return 'is not set, but KAFKA_SASL_USERNAME or KAFKA_SASL_PASSWORD is: set the mechanism (plain, scram-sha-256 or scram-sha-512)'
  },
  KAFKA_SSL_CA_FILE: ({ KAFKA_SSL, KAFKA_SSL_CA_FILE }) => {
    if (!KAFKA_SSL_CA_FILE) return
    if (!KAFKA_SSL) return 'is set, but KAFKA_SSL is not true'
    try { readFileSync(KAFKA_SSL_CA_FILE) } catch (err) { return `cannot be read: ${(err as Error).message}` }
  },
  JWT_SECRET: ({ JWT_SECRET, JWT_PUBLIC_KEY }) => {
    if (JWT_SECRET && JWT_PUBLIC_KEY) return 'and JWT_PUBLIC_KEY are both set: set only one'
    if (JWT_SECRET && JWT_SECRET.length < 32) return `must be at least 32 characters (got ${JWT_SECRET.length})`
  },
  JWT_PUBLIC_KEY: ({ JWT_PUBLIC_KEY }) => {
    if (!JWT_PUBLIC_KEY) return
    try { publicKeyAlgorithms(JWT_PUBLIC_KEY) } catch (err) { return `is not a usable PEM public key: ${(err as Error).message}` }
  },
  REDIS_CLUSTER_NODES: ({ REDIS_URL, REDIS_CLUSTER_NODES }) => {
    if (REDIS_URL && REDIS_CLUSTER_NODES) return 'and REDIS_URL are both set: set REDIS_URL for one Redis or REDIS_CLUSTER_NODES for a Redis Cluster, not both'
  },
  MONGO_URL: ({ MONGO_URL }) => {
    if (MONGO_URL && mongoDatabase(MONGO_URL) === undefined) return 'must start with mongodb:// or mongodb+srv:// and name a host'
  },
  MONGO_DB: ({ MONGO_URL, MONGO_DB }) => {
    const named = MONGO_URL ? mongoDatabase(MONGO_URL) : ''
    if (named && MONGO_DB && named !== MONGO_DB) return `is ${JSON.stringify(MONGO_DB)} but MONGO_URL names database ${JSON.stringify(named)}: drop MONGO_DB or make them agree`
    if (MONGO_DB && /[/\\. "$]/.test(MONGO_DB)) return `${JSON.stringify(MONGO_DB)} is not a MongoDB database name (no / \\ . " $ or space)`
  },
  SERVER_API_KEYS: ({ SERVER_API_KEYS }) => shortApiKey(SERVER_API_KEYS),
  ADMIN_API_KEYS: ({ ADMIN_API_KEYS }) => shortApiKey(ADMIN_API_KEYS),
  MODERATION_BLOCKLIST: ({ MODERATION_BLOCKLIST }) => {
    try { parseBlocklist(MODERATION_BLOCKLIST) } catch (err) { return (err as Error).message }
  }
}

/** The host:port nodes of REDIS_CLUSTER_NODES ([] when unset). */
export function parseClusterNodes (list: string): Array<{ host: string, port: number }> {
  return list.split(',').map((n) => n.trim()).filter((n) => n !== '').map((n) => {
    const colon = n.lastIndexOf(':')
    return { host: n.slice(0, colon), port: Number(n.slice(colon + 1)) }
  })
}

/** The API keys of a comma-separated list (blank entries dropped). */
export function parseApiKeys (list: string): string[] {
  return list.split(',').map((k) => k.trim()).filter((k) => k !== '')
}

function shortApiKey (list: string): string | undefined {
  const short = parseApiKeys(list).find((k) => k.length < 24)
  if (short !== undefined) return `holds a key of ${short.length} characters: API keys must be at least 24 characters`
}
