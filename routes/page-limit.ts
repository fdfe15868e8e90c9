// The `limit` of a paged read (history, a thread's replies). Query strings are converted before
// validation, and `limit=true` would become 1: the raw value must be digits, as the document says
// (an integer). A preValidation hook of those routes.
import type { FastifyRequest } from 'fastify'

export async function rawLimitIsInteger (this: { httpErrors: { badRequest (message: string): Error } }, request: FastifyRequest): Promise<void> {
  const { limit } = request.query as Record<string, unknown>
  if (typeof limit === 'string' && !/^[0-9]+$/.test(limit)) throw this.httpErrors.badRequest(`querystring/limit must be an integer from 1 to 100 (got ${JSON.stringify(limit.slice(0, 20))})`)
}
