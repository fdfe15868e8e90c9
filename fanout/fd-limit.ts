// How many WebSocket connections one instance may hold by default: every socket is an open file,
// and a process at its open-file limit fails accept() in a loop (100 % CPU, /health unanswered).
// The default stays below the soft limit read at start, leaving a reserve for Kafka, Redis,
// MongoDB, log files and refused upgrades, and for the HTTP port's connections, capped at half of it
// (plugins/http-connections.ts): idle sockets there use the same descriptors.
import { readFileSync } from 'node:fs'
import { spawnSync } from 'node:child_process'

/** The soft limit on open files from /proc/self/limits text; Infinity for "unlimited", undefined when absent. */
export function parseOpenFileLimit (limits: string): number | undefined {
  const match = /^Max open files\s+(\S+)/m.exec(limits)
  if (!match) return undefined
  if (match[1] === 'unlimited') return Infinity
  const n = Number(match[1])
  return Number.isInteger(n) && n > 0 ? n : undefined
}

/** This process's soft open-file limit (Node raises it to the hard limit at start), or undefined when unknown. */
export function openFileLimit (): number | undefined {
  try {
    return parseOpenFileLimit(readFileSync('/proc/self/limits', 'utf8'))
  } catch {
    // Not Linux: a child shell inherits our limit (Node has no getrlimit).
    const out = spawnSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8', timeout: 2000 })
    const text = out.status === 0 ? out.stdout.trim() : ''
    if (text === 'unlimited') return Infinity
    const n = Number(text)
    return text !== '' && Number.isInteger(n) && n > 0 ? n : undefined
  }
}

/** Soft limit minus a reserve of a tenth (at least 256 files); 768 when the limit is unknown (as for 1024). */
export function defaultMaxConnections (softLimit: number | undefined): number {
  if (softLimit === undefined) return defaultMaxConnections(1024)
  if (softLimit === Infinity) return 1_000_000
  return Math.max(1, softLimit - reserveOf(softLimit))
}

/** The reserve below the soft limit that WebSockets leave: a tenth, at least 256 files. */
function reserveOf (softLimit: number): number { return Math.max(256, Math.ceil(softLimit / 10)) }

/** HTTP connections (upgraded WebSockets aside) within the reserve: half of it; 128 when the limit is unknown (as for 1024). */
export function defaultHttpConnections (softLimit: number | undefined): number {
  if (softLimit === undefined) return defaultHttpConnections(1024)
  if (softLimit === Infinity) return 100_000
  return Math.floor(reserveOf(softLimit) / 2)
}
