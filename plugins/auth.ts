// Who is making the request. With auth off (no key configured) a client names itself: header
// x-user-id / x-user-name, or the body's senderId / senderName on POST /api/messages (the seed's
// API). Development only: anyone can claim any id.
import fp from 'fastify-plugin'

export interface User { id: string, name: string }

declare module 'fastify' {
  interface FastifyRequest {
    /** The caller, or null when anonymous. */
    user: User | null
  }
  interface FastifyInstance {
    auth: { enabled: boolean }
  }
}

const USER_ID = /^[A-Za-z0-9_.:@-]{1,128}$/

export default fp(async function auth (app) {
  app.decorate('auth', { enabled: false })
  app.log.warn('auth is OFF: no JWT_SECRET or JWT_PUBLIC_KEY set; clients name themselves (development only)')
  app.decorateRequest('user', null)
  app.addHook('onRequest', async (request) => {
    const id = request.headers['x-user-id']
    if (typeof id !== 'string' || id === '') return
    if (!USER_ID.test(id)) throw app.httpErrors.badRequest('header x-user-id must be 1-128 letters, digits or _ . : @ -')
    const name = request.headers['x-user-name']
    request.user = { id, name: typeof name === 'string' && name !== '' ? name.slice(0, 64) : id }
  })
}, { name: 'auth', dependencies: ['errors'] })
