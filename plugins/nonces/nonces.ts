// The nonce store contract: remembers, per key, that a write is in flight or what it produced.
export type NonceState =
  | { state: 'claimed' } // the caller owns the key and does the work
  | { state: 'pending' } // another request owns it and has not finished
  | { state: 'done', value: string } // the work is done: its result
  | { state: 'free' } // nobody holds it (expired, or the owner failed and released it)

export interface NonceStore {
  readonly kind: 'embedded' | 'redis'
  /** Takes the key for ttlSeconds when nobody holds it ('claimed'); otherwise says who does. */
  claim (key: string, ttlSeconds: number): Promise<NonceState>
  /** The key's state, without claiming it. */
  peek (key: string): Promise<NonceState>
  /** Stores the claimed key's result for ttlSeconds. */
  settle (key: string, value: string, ttlSeconds: number): Promise<void>
  /** Frees a claimed key whose work failed, so a retry can claim it. */
  release (key: string): Promise<void>
}
