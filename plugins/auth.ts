// Who is making the request.
// Auth on (JWT_SECRET or JWT_PUBLIC_KEY): `Authorization: Bearer <JWT>`, `sub` is the user id and
// `name` the display name; every /api route needs a valid token (401 otherwise).
// Auth off: a client names itself: header x-user-id / x-user-name, or the body's senderId /
// senderName on POST /api/messages (the seed's API). Development only: anyone can claim any id.
import fp from 'fastify-plugin'
import { bearerToken, createTokenVerifier, TokenRejected, type TokenVerifier, type User } from './auth-token.ts'
import { USER_ID } from '../schemas/message.ts'

export type { User } from './auth-token.ts'

declare module 'fastify' {
  interface FastifyRequest {
    /** The caller, or null when anonymous. */
    user: User | null
    /** The caller, or a 401 saying how to identify oneself for `action` ("editing a message"). */
    requireUser (action: string): User
  }
  interface FastifyInstance {
    auth: {
      enabled: boolean
      /** Verifies a token (HTTP and the WebSocket upgrade share it); throws a 401-style error. */
      verify: TokenVerifier
    }
  }
}

/**
 * Routes a client may call without a user token when auth is on: probes, metrics and docs; the server
 * and admin APIs take an API key instead (plugins/api-keys.ts).
 */
export function isOpenRoute (url: string): boolean {
  return (!url.startsWith('/api/') && url !== '/api') || url.startsWith('/api/server/') || url.startsWith('/api/admin/')
}

export default fp(async function auth (app) {
  const verifier = createTokenVerifier(app.config)
  const verify: TokenVerifier = verifier ?? (() => { throw new TokenRejected('auth is off: tokens are not accepted') })
  app.decorate('auth', { enabled: verifier !== null, verify })
  app.decorateRequest('user', null)
  const identify = verifier ? 'send Authorization: Bearer <token>' : 'send the x-user-id header'
  app.decorateRequest('requireUser', function (this: { user: User | null }, action: string): User {
    if (this.user) return this.user
    throw app.httpErrors.unauthorized(`${action} needs a user: ${identify}`)
  })

  if (verifier) {
    app.log.info({ algorithm: app.config.JWT_SECRET ? 'HS256' : 'public key' }, 'auth is ON: every /api request needs Authorization: Bearer <JWT>')
    app.addHook('onRequest', async (request) => {
      let token: string | undefined
      try {
        token = bearerToken(request.headers.authorization)
        if (token !== undefined) request.user = verifier(token)
      } catch (err) {
        if (err instanceof TokenRejected) throw app.httpErrors.unauthorized(err.message)
        throw err
      }
      // the matched route pattern, so no spelling of a URL can slip past the check
      if (!request.user && !isOpenRoute(request.routeOptions.url ?? request.url)) {
        throw app.httpErrors.unauthorized('missing token: send Authorization: Bearer <JWT>')
      }
    })
    return
  }

  app.log.warn('auth is OFF: no JWT_SECRET or JWT_PUBLIC_KEY set; clients name themselves (development only)')
  app.addHook('onRequest', async (request) => {
    const id = request.headers['x-user-id']
    if (typeof id !== 'string' || id === '') return
    if (!USER_ID.test(id)) throw app.httpErrors.badRequest('header x-user-id must be 1-120 letters, digits or _ . : -')
    const name = request.headers['x-user-name']
    request.user = { id, name: typeof name === 'string' && name !== '' ? name.slice(0, 64) : id }
  })
}, { name: 'auth', dependencies: ['errors'] })
