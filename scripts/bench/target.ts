// The server under test: a running deployment (--target) or a child process this tool starts
// (switchboard on embedded or real services, or the Socket.IO reference), optionally profiled.
import { fork, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { BenchOptions, TransportKind } from './options.ts'
import type { Listening, Stopped } from './serve.ts'

export interface Target {
  apiUrl: string
  wsUrl: string
  /** what serves it: "embedded log, embedded cache, embedded store", "socket.io + redis adapter", "external" */
  mode: string
  /** starts the measured window (CPU, event loop, profile) of a server this tool started */
  mark (): Promise<void>
  /** ends the measured window: server CPU time, event loop and profile, for servers this tool started */
  measure (): Promise<Stopped | undefined>
  stop (): Promise<Stopped | undefined>
}

const SERVE = fileURLToPath(new URL('./serve.ts', import.meta.url))
const START_TIMEOUT_MS = 120_000

export async function openTarget (options: BenchOptions, transport: TransportKind): Promise<Target> {
  if (options.target) return externalTarget(options.target, options.wsUrl, transport)
  const kind = transport === 'socketio' ? 'socketio' : 'switchboard'
  if (options.profile) mkdirSync(options.profile, { recursive: true })
  const child = fork(SERVE, [kind], {
    execArgv: ['--import', 'tsx'],
    env: {
      // A bench must not be throttled by its own server: no per-client rate limit (0 = off).
      RATE_LIMIT_MAX: '0',
      ...process.env,
      ...(options.profile ? { BENCH_PROFILE_DIR: options.profile, BENCH_PROFILE_LABEL: `${transport}-` } : {})
    },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc']
  })
  const listening = await firstMessage<Listening>(child, 'listening', START_TIMEOUT_MS)
  const wsUrl = transport === 'uws' ? listening.uwsUrl! : transport === 'fastify' ? listening.fastifyWsUrl! : listening.apiUrl
  return {
    apiUrl: listening.apiUrl,
    wsUrl,
    mode: listening.mode,
    async mark () {
      const marked = firstMessage<{ type: 'marked' }>(child, 'marked', 30_000)
      child.send({ type: 'mark' })
      await marked
    },
    async measure () {
      const measured = firstMessage<Stopped>(child, 'measured', 30_000)
      child.send({ type: 'measure' })
      return await measured
    },
    async stop () {
      if (child.exitCode !== null) return undefined
      const stopped = firstMessage<Stopped>(child, 'stopped', 30_000)
      const exited = once(child, 'exit')
      child.send({ type: 'stop' })
      const result = await stopped.catch(() => undefined)
      await exited
      return result
    }
  }
}

/** A running deployment: uws on port 5002 of its host, fastify on its API port, Socket.IO on its base URL. */
function externalTarget (apiUrl: string, wsUrl: string | undefined, transport: TransportKind): Target {
  const api = new URL(apiUrl)
  const ws = api.protocol === 'https:' ? 'wss:' : 'ws:'
  const derived = transport === 'socketio' ? apiUrl : transport === 'fastify' ? `${ws}//${api.host}/ws` : `${ws}//${api.hostname}:5002/ws`
  return { apiUrl, wsUrl: wsUrl ?? derived, mode: 'external', mark: async () => {}, measure: async () => undefined, stop: async () => undefined }
}

function firstMessage<T> (child: ChildProcess, type: string, timeoutMs: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { cleanup(); child.kill(); reject(new Error(`the server did not answer "${type}" within ${timeoutMs} ms`)) }, timeoutMs)
    const onMessage = (m: { type?: string, message?: string }) => {
      if (m?.type === type) { cleanup(); resolve(m as T) } else if (m?.type === 'failed') { cleanup(); reject(new Error(`the server failed to start: ${m.message}`)) }
    }
    const onExit = (code: number | null) => { cleanup(); reject(new Error(`the server exited (code ${code}) before "${type}"`)) }
    const cleanup = () => { clearTimeout(timer); child.off('message', onMessage); child.off('exit', onExit) }
    child.on('message', onMessage)
    child.on('exit', onExit)
  })
}
