// A JWT public key as the configuration gives it: read by config.ts (a bad key stops the start,
// naming JWT_PUBLIC_KEY) and by the token verifier, so neither imports the other.
import { createPublicKey, type KeyObject } from 'node:crypto'
import type { Algorithm } from 'fast-jwt'

/** Env files often carry a PEM on one line with literal `\n`: accept both forms. */
export function readPem (value: string): string {
  return value.includes('\\n') ? value.replace(/\\n/g, '\n') : value
}

/** The algorithms a public key can verify; throws (naming why) when the PEM does not parse. */
export function publicKeyAlgorithms (pem: string): { key: KeyObject, algorithms: Algorithm[] } {
  const key = createPublicKey(readPem(pem))
  if (key.asymmetricKeyType === 'rsa') return { key, algorithms: ['RS256', 'RS384', 'RS512'] }
  if (key.asymmetricKeyType === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve
    const byCurve: Record<string, Algorithm> = { prime256v1: 'ES256', secp384r1: 'ES384', secp521r1: 'ES512' }
    if (curve && byCurve[curve]) return { key, algorithms: [byCurve[curve]] }
  }
  throw new Error(`unsupported key type ${key.asymmetricKeyType}${key.asymmetricKeyDetails?.namedCurve ? ` (${key.asymmetricKeyDetails.namedCurve})` : ''}: use an RSA or P-256/P-384/P-521 EC public key`)
}
