// Who may connect to the fanout and what they may subscribe to: the hub's `authenticate` and
// `authorizeSubscribe` hooks. Both run before anything is delivered (authenticate before the socket exists).
import fp from 'fastify-plugin'
import { devIdentity } from '../fanout/auth.ts'
import type { AuthRequest, Connection, Identity } from '../fanout/types.ts'
import { TokenRejected } from './auth-token.ts'

/** A refusal with the HTTP status the upgrade answers (401 by default, 429 over the connection limit). */
const refuse = (message: string, statusCode = 401) => Object.assign(new Error(message), { statusCode })

export default fp(async function fanoutAccess (app) {
  const { hub } = app.fanout
  const max = app.config.WS_MAX_CONNECTIONS_PER_USER

  const identify = async (req: AuthRequest): Promise<Identity | undefined | Error> => {
    if (!app.auth.enabled) return devIdentity(req) // ?user=<id>: development only
    if (!req.token) return refuse('missing token: connect with ?token=<JWT>')
    try {
      const user = app.auth.verify(req.token)
      return { userId: user.id, name: user.name, expiresAt: user.expiresAt }
    } catch (err) {
      if (err instanceof TokenRejected) return refuse(err.message)
      throw err
    }
  }

  // Counted per instance, over the connections open now: a burst of parallel upgrades of one user
  // can pass the check together (they are counted from the next upgrade on).
  hub.setDecision('authenticate', async (req) => {
    const identity = await identify(req)
    if (identity instanceof Error || !identity || max === 0) return identity
    if (hub.connectionsOf(identity.userId).size >= max) {
      return refuse(`too many connections: at most ${max} WebSocket connections per user`, 429)
    }
    return identity
  }, 'fanout-access')
  hub.setDecision('authorizeSubscribe', async (conn: Connection, channel: string) => {
    const reason = await app.channels.refusal(conn.user ? { id: conn.user } : null, channel, 'read')
    if (reason) throw Object.assign(new Error(reason), { code: 'forbidden' })
  }, 'fanout-access')
}, { name: 'fanout-access', dependencies: ['fanout', 'auth', 'channels'] })
