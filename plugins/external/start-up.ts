// Start-up that says what it waits for: a dependency that is slow to answer at start (Kafka creating
// topics or joining a group, Redis connecting, MongoDB's first ping) is named in the log while the
// app waits, and in the error when PLUGIN_TIMEOUT_MS runs out, instead of Fastify's bare
// "Plugin did not start in time: ''".
import type { FastifyBaseLogger } from 'fastify'

/** How often a start-up step that has not finished says so. */
export const STILL_WAITING_EVERY_MS = 5000

/** A start-up step outlived its hook's share of PLUGIN_TIMEOUT_MS; the message names the step. */
export class StartUpTimeout extends Error {
  readonly code = 'SB_START_UP_TIMEOUT'
  constructor (readonly step: string, timeoutMs: number) {
    super(`start-up gave up waiting for ${step} after ${Math.round(timeoutMs / 100) / 10} s (PLUGIN_TIMEOUT_MS)`)
  }
}

/**
 * Awaits `work`, logging `start-up waiting for <what>` with the time waited so far every
 * `everyMs` while it has not settled. A failure is thrown as it is (the message that names it);
 * past `deadline` (a Date.now() time) it throws a StartUpTimeout naming `what`.
 */
export async function waitingFor<T> (log: FastifyBaseLogger, what: string, work: Promise<T>, everyMs = STILL_WAITING_EVERY_MS, deadline = Infinity): Promise<T> {
  const started = Date.now()
  const timer = setInterval(() => {
    const waitedMs = Date.now() - started
    log.warn({ waitingFor: what, waitedMs }, `start-up waiting for ${what} (${Math.round(waitedMs / 1000)} s so far)`)
  }, everyMs)
  let expiry: NodeJS.Timeout | undefined
  try {
    if (deadline === Infinity) return await work
    return await Promise.race([work, new Promise<never>((_resolve, reject) => {
      expiry = setTimeout(() => {
        work.catch(() => {}) // it may still fail later: nobody waits for it any more
        reject(new StartUpTimeout(what, Date.now() - started))
      }, Math.max(0, deadline - Date.now()))
    })])
  } finally {
    clearInterval(timer)
    clearTimeout(expiry)
  }
}

/**
 * The steps of one onReady hook, started now, against the hook's PLUGIN_TIMEOUT_MS (`timeoutMs`,
 * 0 = no limit): Fastify fails a hook that outlives it with an error that names no step, so a step
 * that would outlive it fails a little earlier, naming itself.
 */
export function startUpSteps (log: FastifyBaseLogger, timeoutMs: number) {
  const deadline = timeoutMs > 0 ? Date.now() + timeoutMs - Math.min(1000, timeoutMs / 10) : Infinity
  return <T>(what: string, work: Promise<T>): Promise<T> => waitingFor(log, what, work, STILL_WAITING_EVERY_MS, deadline)
}
