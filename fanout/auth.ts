// Upgrade authentication: runs the `authenticate` hook and turns any refusal into a 401.
import type { AuthRequest, FanoutHooks, Identity } from './types.ts'
import { USER_ID } from '../schemas/message.ts'

/** Rejects a WebSocket upgrade: the transport answers HTTP 401 (or the hook's 403 / 429) before any socket exists. */
export class FanoutAuthError extends Error {
  override readonly name = 'FanoutAuthError'
  readonly statusCode: 401 | 403 | 429
  constructor (message: string, options?: ErrorOptions & { statusCode?: unknown }) {
    super(message, options)
    this.statusCode = options?.statusCode === 403 || options?.statusCode === 429 ? options.statusCode : 401
  }
}

/** The reason phrase of a refused upgrade. */
export const refusalName = (status: number) => status === 503 ? 'Service Unavailable' : status === 429 ? 'Too Many Requests' : status === 403 ? 'Forbidden' : 'Unauthorized'

/** Without an authenticate hook, `?user=<id>` is trusted as the identity: a development convenience. */
export async function devIdentity (req: AuthRequest): Promise<Identity | undefined | Error> {
  if (req.user === undefined || req.user === '') return undefined
  return USER_ID.test(req.user) ? { userId: req.user } : new Error('user must be 1-120 characters of [A-Za-z0-9_.:-]')
}

/** The identity (undefined: anonymous), or a FanoutAuthError when the hook throws or returns an Error. */
export async function authenticateUpgrade (hook: FanoutHooks['authenticate'] | undefined, req: AuthRequest): Promise<Identity | undefined> {
  let result: Identity | null | undefined | Error
  try {
    result = await (hook ?? devIdentity)(req)
  } catch (err) {
    result = err instanceof Error ? err : new Error(String(err))
  }
  if (result instanceof Error) throw new FanoutAuthError(result.message || 'unauthorized', { cause: result, statusCode: (result as { statusCode?: unknown }).statusCode })
  return result ?? undefined
}
