// Start-up that says what it waits for: a dependency that is slow to answer at start (Kafka creating
// topics or joining a group, Redis connecting, MongoDB's first round trip) is named in the log
// while the app waits, instead of a bare "Plugin did not start in time" once Fastify's plugin
// timeout (PLUGIN_TIMEOUT_MS) runs out.
import type { FastifyBaseLogger } from 'fastify'

/** How often a start-up step that has not finished says so. */
export const STILL_WAITING_EVERY_MS = 5000

/**
 * Awaits `work`, logging `start-up waiting for <what>` with the time waited so far every
 * `everyMs` while it has not settled. A failure is thrown as it is (the message that names it).
 */
export async function waitingFor<T> (log: FastifyBaseLogger, what: string, work: Promise<T>, everyMs = STILL_WAITING_EVERY_MS): Promise<T> {
  const started = Date.now()
  const timer = setInterval(() => {
    const waitedMs = Date.now() - started
    log.warn({ waitingFor: what, waitedMs }, `start-up waiting for ${what} (${Math.round(waitedMs / 1000)} s so far)`)
  }, everyMs)
  try {
    return await work
  } finally {
    clearInterval(timer)
  }
}
