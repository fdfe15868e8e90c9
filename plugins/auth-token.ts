// The one JWT verifier, shared by HTTP (Authorization: Bearer) and the WebSocket upgrade (?token=).
// fast-jwt does the cryptography and the claim checks; this file only picks the key and algorithms.
import { createVerifier, type Algorithm } from 'fast-jwt'
import { USER_ID } from '../schemas/message.ts'
import { publicKeyAlgorithms } from '../schemas/public-key.ts'

export interface User {
  id: string
  name: string
  /** when the token stops being valid (its `exp`, in ms since the epoch): a WebSocket is closed then */
  expiresAt?: number
}

export interface TokenSettings {
  JWT_SECRET: string
  JWT_PUBLIC_KEY: string
  JWT_ISSUER: string
  JWT_AUDIENCE: string
}

// Token subjects become user ids and personal channel names (`user:<id>`), so they are channel-safe.
export { USER_ID }

/** Raised for every refused token; HTTP answers 401, the WebSocket upgrade too. */
export class TokenRejected extends Error {
  override readonly name = 'TokenRejected'
  readonly statusCode = 401
}

export type TokenVerifier = (token: string) => User

/** A verifier for the configured key, or null when no key is set (auth off). */
export function createTokenVerifier (settings: TokenSettings): TokenVerifier | null {
  const { JWT_SECRET, JWT_PUBLIC_KEY, JWT_ISSUER, JWT_AUDIENCE } = settings
  if (!JWT_SECRET && !JWT_PUBLIC_KEY) return null
  const { key, algorithms } = JWT_SECRET
    ? { key: JWT_SECRET, algorithms: ['HS256'] as Algorithm[] }
    : publicKeyAlgorithms(JWT_PUBLIC_KEY)
  const verify = createVerifier({
    key: typeof key === 'string' ? key : key.export({ type: 'spki', format: 'pem' }).toString(),
    algorithms,
    // a token without an expiry would be valid forever; fast-jwt checks iss / aud only when present
    requiredClaims: ['sub', 'exp', ...(JWT_ISSUER ? ['iss'] : []), ...(JWT_AUDIENCE ? ['aud'] : [])],
    ...(JWT_ISSUER ? { allowedIss: JWT_ISSUER } : {}),
    ...(JWT_AUDIENCE ? { allowedAud: JWT_AUDIENCE } : {}),
    cache: 1000
  })
  return (token) => {
    let claims: Record<string, unknown>
    try {
      claims = verify(token)
    } catch (err) {
      throw new TokenRejected(`invalid token: ${(err as Error).message}`)
    }
    const sub = claims.sub
    if (typeof sub !== 'string' || !USER_ID.test(sub)) throw new TokenRejected('invalid token: sub must be 1-120 letters, digits or _ . : -')
    const name = typeof claims.name === 'string' && claims.name.trim() !== '' ? claims.name.slice(0, 64) : sub
    return typeof claims.exp === 'number' ? { id: sub, name, expiresAt: claims.exp * 1000 } : { id: sub, name }
  }
}

/** The token of an `Authorization: Bearer <token>` header; undefined when there is no header. */
export function bearerToken (header: string | undefined): string | undefined {
  if (header === undefined || header === '') return undefined
  const match = /^Bearer +([^\s]+) *$/i.exec(header)
  if (!match) throw new TokenRejected('Authorization header must be "Bearer <token>"')
  return match[1]
}
