// The one place that reads process.env: every setting, its type and default, checked at start.
import { Type, type Static } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'

export const ConfigSchema = Type.Object({
  NODE_ENV: Type.String({ default: 'development' }),
  HOST: Type.String({ default: '0.0.0.0', minLength: 1 }),
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 5001, description: 'HTTP API port (also serves /ws through @fastify/websocket)' }),
  WS_PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 5002, description: 'uWebSockets.js fanout port (path /ws)' }),
  LOG_LEVEL: Type.Union(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)), { default: 'info' }),
  INSTANCE_ID: Type.String({ default: '', description: 'names this instance in broadcast consumer groups; random when empty' }),

  KAFKA_BROKERS: Type.String({ default: '', description: 'comma-separated host:port list; empty = embedded event log' }),
  KAFKA_CLIENT_ID: Type.String({ default: 'switchboard' }),
  KAFKA_TOPIC_PREFIX: Type.String({ default: '', description: 'prepended to every topic and consumer group name' }),
  KAFKA_PARTITIONS: Type.Integer({ minimum: 1, default: 3 }),
  REDIS_URL: Type.String({ default: '', description: 'redis:// URL; empty = embedded cache' }),
  REDIS_KEY_PREFIX: Type.String({ default: 'sb:' }),
  MONGO_URL: Type.String({ default: '', description: 'mongodb:// URL; empty = embedded store' }),
  MONGO_DB: Type.String({ default: 'switchboard', minLength: 1 }),

  CACHE_RECENT: Type.Integer({ minimum: 1, maximum: 10000, default: 100, description: 'messages kept per channel in the cache' }),
  CACHE_TTL_SECONDS: Type.Integer({ minimum: 1, default: 3600 }),
  BODY_LIMIT: Type.Integer({ minimum: 1024, default: 65536, description: 'HTTP body limit in bytes (413 above)' }),
  MESSAGE_MAX_LENGTH: Type.Integer({ minimum: 1, default: 4000 }),
  WS_MAX_PAYLOAD: Type.Integer({ minimum: 256, default: 16384, description: 'largest accepted client frame in bytes' }),
  WS_MAX_BACKPRESSURE: Type.Integer({ minimum: 1024, default: 1048576, description: 'bytes buffered for one slow client before it is closed with 4008' }),
  // uWS accepts 0 (never) or at least 8 seconds; anything else would abort the process.
  WS_IDLE_TIMEOUT: Type.Union([Type.Literal(0), Type.Integer({ minimum: 8 })], { default: 120, description: 'seconds without a frame before a socket is closed: 0 (never) or at least 8' }),
  SHUTDOWN_GRACE_MS: Type.Integer({ minimum: 0, default: 10000 })
})

export type Config = Static<typeof ConfigSchema>

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
  return candidate as Config
}
