// One error shape for every failure, {statusCode, error, message}; bad input is never a 5xx and a
// dependency that is down is a 503 that names it.
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import sensible from '@fastify/sensible'

/**
 * A failure of a dependency that will come back (a database or the log is down). Topic handlers
 * retry it without limit, so the event waits in the log; HTTP answers 503.
 */
export class TransientError extends Error {
  readonly transient = true
  constructor (message: string, options?: ErrorOptions) { super(message, options); this.name = 'TransientError' }
}

export function isTransient (err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { transient?: unknown }).transient === true
}

export default fp(async function errors (app) {
  await app.register(sensible)

  app.setErrorHandler<FastifyError>((err, request, reply) => {
    if (err.validation) {
      const detail = err.validation.map((v) => `${err.validationContext ?? 'request'}${v.instancePath || ''} ${v.message}`).join('; ')
      return reply.code(400).send({ statusCode: 400, error: 'Bad Request', message: detail })
    }
    if (isTransient(err)) {
      request.log.error({ err }, 'dependency unavailable')
      return reply.code(503).header('retry-after', '1').send({ statusCode: 503, error: 'Service Unavailable', message: err.message })
    }
    const status = err.statusCode ?? 500
    if (status >= 400 && status < 500) {
      return reply.code(status).send({ statusCode: status, error: httpName(status), message: err.message })
    }
    request.log.error({ err }, 'request failed')
    return reply.code(status >= 500 ? status : 500).send({ statusCode: status >= 500 ? status : 500, error: httpName(status >= 500 ? status : 500), message: status === 503 ? err.message : 'internal error' })
  })

  // Every route's path as a pattern, to tell "no such path" (404) from "not this method" (405 + Allow).
  const routes: Array<{ pattern: RegExp, methods: Set<string> }> = []
  app.addHook('onRoute', (route) => {
    const source = route.url.split('/').map((part) => part.startsWith(':') ? '[^/]+' : part === '*' ? '.*' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('/')
    let entry = routes.find((r) => r.pattern.source === `^${source}/?$`)
    if (!entry) routes.push(entry = { pattern: new RegExp(`^${source}/?$`), methods: new Set() })
    for (const method of [route.method].flat()) entry.methods.add(method)
  })

  const notFound = (request: FastifyRequest, reply: FastifyReply) => {
    const path = request.url.split('?')[0]
    const allowed = new Set(routes.filter((r) => r.pattern.test(path)).flatMap((r) => [...r.methods]))
    if (allowed.size > 0) {
      return reply.code(405).header('allow', [...allowed].sort().join(', '))
        .send({ statusCode: 405, error: 'Method Not Allowed', message: `${request.method} is not supported on ${path}; allowed: ${[...allowed].sort().join(', ')}` })
    }
    return reply.code(404).send({ statusCode: 404, error: 'Not Found', message: `no route for ${request.method} ${path}` })
  }
  app.setNotFoundHandler(notFound)
  // No route: answered before the body is read (after onRequest, so auth still answers first), so
  // neither a body's size or media type nor Fastify's rule that a QUERY carry a Content-Type (a 400)
  // can turn the 404 or 405 into something else.
  app.addHook('preParsing', async (request, reply) => {
    if (request.is404) notFound(request, reply)
  })
}, { name: 'errors' })

function httpName (status: number): string {
  return STATUS_NAMES[status] ?? (status >= 500 ? 'Internal Server Error' : 'Bad Request')
}

const STATUS_NAMES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Entity',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable'
}
