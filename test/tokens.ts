// Test tokens: keys made with node:crypto per run (no key files), signed with fast-jwt.
import { generateKeyPairSync, randomBytes } from 'node:crypto'
import { createSigner, type Algorithm } from 'fast-jwt'

export const secret = randomBytes(32).toString('hex')
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } })
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256', publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } })
export const keys = { rsa, ec }

export interface TokenOptions {
  sub?: string
  name?: string
  algorithm?: Algorithm
  key?: string
  /** seconds from now; negative for an expired token; null for no exp at all */
  expiresIn?: number | null
  iss?: string
  aud?: string
  claims?: Record<string, unknown>
}

/** An HS256 token for `sub` (signed with `secret`) unless told otherwise. */
export function token (opts: TokenOptions = {}): string {
  const { sub = 'alice', name, algorithm = 'HS256', key = secret, expiresIn = 300, iss, aud, claims = {} } = opts
  const now = Math.floor(Date.now() / 1000)
  const sign = createSigner({ key, algorithm, noTimestamp: true })
  return sign({
    sub,
    ...(name ? { name } : {}),
    ...(expiresIn === null ? {} : { exp: now + expiresIn }),
    iat: now,
    ...(iss ? { iss } : {}),
    ...(aud ? { aud } : {}),
    ...claims
  })
}

export const bearer = (t: string) => ({ authorization: `Bearer ${t}` })
