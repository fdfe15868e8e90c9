// Logger options for the process (server.ts) and the tests that check what it writes: pino at
// LOG_LEVEL, and request lines that never carry a credential (browsers put the WebSocket token in
// the URL: `/ws?token=…`).
import type { FastifyLoggerOptions, FastifyRequest } from 'fastify'
import type { Config } from './config.ts'

// query parameters whose values are credentials
const SECRET_PARAMS = /([?&](?:token|access_token)=)[^&#]*/gi

/** The URL with credential query values replaced by `[redacted]`. */
export function redactUrl (url: string): string {
  return url.includes('?') ? url.replace(SECRET_PARAMS, '$1[redacted]') : url
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
