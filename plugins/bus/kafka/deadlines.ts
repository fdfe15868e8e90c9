// How long the bus waits for Kafka, and when it asks again: a deadline for calls that must not
// hang on a dead broker, and retries for admin calls kafkajs gives up on too early.
import { setTimeout as wait } from 'node:timers/promises'

/** An operation with no answer by its deadline: whether it took effect is unknown. */
export class Timeout extends Error {}

/** Rejects after `ms`; the operation itself is not cancelled, so callers reset what it used. */
export async function within<T> (ms: number, what: string, op: Promise<T>): Promise<T> {
  // A plain timer, not an aborted timers/promises wait: that allocates an AbortError (a
  // DOMException with a stack) per call, 3 % of the server's CPU at 1,000 produces/s.
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<never>((_resolve, reject) => { timer = setTimeout(() => reject(new Timeout(`${what}: no answer within ${ms} ms`)), ms) })
  try {
    return await Promise.race([op, deadline])
  } finally {
    clearTimeout(timer)
    op.catch(() => {}) // a late rejection of the abandoned operation is not unhandled
  }
}

/**
 * Retries an admin call that kafkajs gives up on at once, e.g. a partition whose new leader is
 * not known everywhere yet (NOT_LEADER_FOR_PARTITION just after a topic is created), until the
 * bus `closed`.
 */
export async function settled<T> (op: () => Promise<T>, closed: () => boolean): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await op()
    } catch (err) {
      if (!retriable(err) || attempt >= 10 || closed()) throw err
      await wait(100 * attempt)
    }
  }
}

/** kafkajs marks passing trouble `retriable`, also under the error it throws once its retries are spent. */
function retriable (err: unknown): boolean {
  for (let e = err as { retriable?: boolean, cause?: unknown } | undefined; e; e = e.cause as typeof e) {
    if (e.retriable === true) return true
  }
  return false
}
