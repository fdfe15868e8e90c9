// Issue 24, N8: WS_MAX_CONNECTIONS counts upgraded WebSockets only, and idle TCP connections to the
// HTTP port had no cap: 520 of them took a server with 512 open files to its limit, and /health and
// the WebSocket port went unanswered (accept() failing in a loop). The server runs as a child
// process whose open-file limit is 512, as in the review.
import { spawn } from 'node:child_process'
import { readdirSync } from 'node:fs'
import net from 'node:net'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import t, { type Test } from 'tap'
import { TestClient } from './helpers.ts'
import { defaultHttpConnections } from '../../fanout/fd-limit.ts'

const root = fileURLToPath(new URL('../..', import.meta.url))
const LIMIT = 512

/**
 * server.ts with embedded services under `prlimit --nofile=LIMIT`; its pid and both ports once it
 * serves. A shell stands between: it kills the server once this process's end of its stdin closes,
 * so the server never outlives the test (a test killed on timeout runs no teardown).
 */
async function lowLimitServer (t: Test) {
  const script = `prlimit --nofile=${LIMIT}:${LIMIT} "$0" --import=tsx server.ts & echo "{\\"serverPid\\":$!}"; read _; kill -9 $!`
  const child = spawn('sh', ['-c', script, process.execPath], {
    cwd: root,
    env: { PATH: process.env.PATH, HOST: '127.0.0.1', PORT: '0', WS_PORT: '0', LOG_LEVEL: 'info', SHED_EVENT_LOOP_DELAY_MS: '0', SHED_EVENT_LOOP_UTILIZATION: '0' },
    stdio: ['pipe', 'pipe', 'inherit']
  })
  t.teardown(() => { child.stdin!.end() })
  const exited = new Promise<never>((_resolve, reject) => child.once('exit', (code) => reject(new Error(`server exited (${code}) before serving`))))
  const started = new Promise<{ pid: number, api: number, uws: number, maxHttp?: number }>((resolve) => {
    let pid: number | undefined
    let api: number | undefined
    let uws: number | undefined
    let maxHttp: number | undefined
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const entry = (() => { try { return JSON.parse(line) } catch { return {} } })()
      if (typeof entry.serverPid === 'number') pid = entry.serverPid
      if (entry.component === 'fanout' && typeof entry.port === 'number') uws = entry.port
      if (typeof entry.maxHttpConnections === 'number') maxHttp = entry.maxHttpConnections
      const listening = typeof entry.msg === 'string' && /^Server listening at http:\/\/127\.0\.0\.1:(\d+)/.exec(entry.msg)
      if (listening) api = Number(listening[1])
      if (typeof entry.msg === 'string' && entry.msg.startsWith('switchboard ready') && pid && api && uws) resolve({ pid, api, uws, maxHttp })
    })
  })
  return await Promise.race([started, exited])
}

t.test('idle HTTP connections past the open-file limit leave /health and WebSocket upgrades answered', async (t) => {
  const server = await lowLimitServer(t)
  t.equal(server.maxHttp, 128, 'half of the 256 files WebSockets leave below 512')
  // 520 idle TCP connections to the HTTP port, more than the process may open; each ends connected
  // (the kernel completed it) or closed (the server made room by closing it).
  const sockets: net.Socket[] = []
  t.teardown(() => { for (const s of sockets) s.destroy() })
  await Promise.all(Array.from({ length: 520 }, () => new Promise<void>((resolve) => {
    const socket = net.connect(server.api, '127.0.0.1')
    sockets.push(socket)
    socket.once('connect', resolve)
    socket.once('close', () => resolve())
    socket.on('error', () => {})
  })))

  const health = await fetch(`http://127.0.0.1:${server.api}/health`)
  t.equal(health.status, 200, '/health answers')
  const uws = await TestClient.open(`ws://127.0.0.1:${server.uws}/ws`, '?user=alice')
  t.equal(uws.frames[0].op, 'ready', 'a WebSocket on the uWS port opens')
  const api = await TestClient.open(`ws://127.0.0.1:${server.api}/ws`, '?user=bob')
  t.equal(api.frames[0].op, 'ready', 'a WebSocket on the API port opens')
  await uws.barrier()
  await api.barrier()
  const files = readdirSync(`/proc/${server.pid}/fd`).length
  t.ok(files < LIMIT, `the server holds ${files} files, below its limit of ${LIMIT}`)
  const open = sockets.filter((s) => !s.destroyed && s.readyState === 'open').length
  t.ok(open <= (server.maxHttp ?? 0), `${open} idle connections are left open, at most the cap`)
  uws.close()
  api.close()
})

t.test('the HTTP cap is half of the reserve WebSockets leave', async (t) => {
  t.equal(defaultHttpConnections(512), 128)
  t.equal(defaultHttpConnections(1024), 128)
  t.equal(defaultHttpConnections(100_000), 5000, 'a tenth is reserved on large limits')
  t.equal(defaultHttpConnections(undefined), 128, 'unknown: as for 1024')
})
