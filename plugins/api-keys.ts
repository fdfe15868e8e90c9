// API keys for other services (SERVER_API_KEYS: /api/server/*) and operators (ADMIN_API_KEYS:
// /api/admin/*), sent as `X-API-Key`. Distinct from user tokens: a JWT opens neither API and a key
// opens nothing else. Keys are compared as SHA-256 digests in constant time; a request's key is
// named by a digest prefix (logs, idempotency scopes), never by the key itself.
import { createHash, timingSafeEqual } from 'node:crypto'
import fp from 'fastify-plugin'
import type { onRequestAsyncHookHandler } from 'fastify'
import { parseApiKeys } from '../config.ts'

export type ApiScope = 'server' | 'admin'

declare module 'fastify' {
  interface FastifyRequest {
    /** The API key the request was let in with (its scope and a digest prefix), or null. */
    apiKey: { scope: ApiScope, id: string } | null
  }
  interface FastifyInstance {
    apiKeys: {
      /** A route-level onRequest hook: 401 unless X-API-Key is one of the scope's keys. */
      guard (scope: ApiScope): onRequestAsyncHookHandler
    }
  }
}

const digest = (key: string) => createHash('sha256').update(key).digest()

/** Routes under these prefixes take an API key instead of a user token. */
export const API_KEY_PREFIXES = ['/api/server/', '/api/admin/'] as const

export default fp(async function apiKeys (app) {
  const keys: Record<ApiScope, Buffer[]> = {
    server: parseApiKeys(app.config.SERVER_API_KEYS).map(digest),
    admin: parseApiKeys(app.config.ADMIN_API_KEYS).map(digest)
  }
  const variable: Record<ApiScope, string> = { server: 'SERVER_API_KEYS', admin: 'ADMIN_API_KEYS' }
  app.decorateRequest('apiKey', null)
  app.decorate('apiKeys', {
    guard: (scope: ApiScope): onRequestAsyncHookHandler => async (request) => {
      if (keys[scope].length === 0) throw app.httpErrors.unauthorized(`the ${scope} API is off: no ${variable[scope]} configured`)
      const given = request.headers['x-api-key']
      if (typeof given !== 'string' || given === '') throw app.httpErrors.unauthorized(`missing API key: send X-API-Key with one of ${variable[scope]}`)
      const sent = digest(given)
      const match = keys[scope].find((k) => timingSafeEqual(k, sent))
      if (!match) throw app.httpErrors.unauthorized(`invalid API key for the ${scope} API`)
      request.apiKey = { scope, id: match.toString('hex').slice(0, 12) }
    }
  })
}, { name: 'api-keys', dependencies: ['errors'] })
