// Logger options for the process (server.ts) and the tests that check what it writes: pino at
// LOG_LEVEL, and request lines that never carry a credential (browsers put the WebSocket token in
// the URL: `/ws?token=…`).
import type { FastifyLoggerOptions, FastifyRequest } from 'fastify'
import type { Config } from './config.ts'

// query parameters whose values are credentials, by the name the query parser reads
const SECRET_PARAMS = new Set(['token', 'access_token'])

/** A parameter name as the query parser decodes it (`%74oken` is `token`, `+` a space). */
function paramName (raw: string): string {
  try { return decodeURIComponent(raw.replace(/\+/g, ' ')).toLowerCase() } catch { return raw.toLowerCase() }
}

/**
 * The URL with credential query values replaced by `[redacted]`. Parameters are matched by their
 * decoded name, as the router reads them: the query starts at the first `?`, `#` or `;` and every
 * `&`-separated pair after it is one parameter.
 */
export function redactUrl (url: string): string {
  const start = url.search(/[?#;]/)
  if (start === -1) return url
  const pairs = url.slice(start + 1).split('&').map((pair) => {
    const name = pair.split('=', 1)[0]
    return SECRET_PARAMS.has(paramName(name)) ? `${name}=[redacted]` : pair
  })
  return `${url.slice(0, start + 1)}${pairs.join('&')}`
}

/**
 * Human-readable lines (pino-pretty, a development dependency) or JSON lines: LOG_FORMAT=auto picks
 * pretty only on a terminal with pino-pretty installed, so production and pipes get JSON.
 */
export function prettyLogs (format: Config['LOG_FORMAT'], isTTY = Boolean(process.stdout.isTTY)): boolean {
  if (format !== 'auto') return format === 'pretty'
  if (!isTTY) return false
  try {
    import.meta.resolve('pino-pretty')
    return true
  } catch {
    return false
  }
}

export function loggerOptions (config: Config, isTTY?: boolean): FastifyLoggerOptions & { level: string } {
  return {
    level: config.LOG_LEVEL,
    ...(prettyLogs(config.LOG_FORMAT, isTTY) ? { transport: { target: 'pino-pretty', options: { translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname' } } } : {}),
    serializers: {
      // Fastify's default request serializer, with the URL redacted
      req (request: FastifyRequest) {
        return {
          method: request.method,
          url: redactUrl(request.url),
          version: request.headers?.['accept-version']?.toString(),
          host: request.host,
          remoteAddress: request.ip,
          remotePort: request.socket?.remotePort
        }
      }
    }
  }
}
