import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import WebSocket from 'ws'
import { FanoutHub } from '../../fanout/hub.ts'
import { CloseCodes } from '../../fanout/protocol.ts'
import { createUwsServer } from '../../fanout/uws-server.ts'
import { TestClient, upgradeStatus, uwsTarget } from './helpers.ts'
import { protocolSuite } from './protocol-suite.ts'

// uWS enforces its maxPayloadLength itself and drops the TCP connection without a close frame.
protocolSuite(t, (t) => uwsTarget(t), 1006)

t.test('a refusing authenticate hook answers 401 before any socket exists', async (t) => {
  const target = await uwsTarget(t, {
    hooks: { authenticate: async ({ token }) => token === 'good' ? { userId: 'u1', name: 'Una' } : new Error('bad token') }
  })
  const refused = await upgradeStatus(`${target.url}?token=bad`)
  t.equal(refused.status, 401)
  t.same(JSON.parse(refused.body), { statusCode: 401, error: 'Unauthorized', message: 'bad token' })
  t.equal((await upgradeStatus(target.url)).status, 401, 'no token at all')
  const ok = await TestClient.open(target.url, '?token=good')
  t.equal(ok.frames[0].user, 'u1')
  t.equal(target.hub.stats.connections.uws, 1)
  ok.close()
})

t.test('close() sends 1001 to every client and frees the port', async (t) => {
  const hub = new FanoutHub()
  const server = await createUwsServer({ host: '127.0.0.1', port: 0, hub, maxPayload: 1024, maxBackpressure: 65536, idleTimeout: 0 })
  const c = await TestClient.open(`ws://127.0.0.1:${server.port}/ws`)
  await server.close()
  t.equal((await c.closed).code, CloseCodes.GOING_AWAY)
  t.equal(hub.stats.connections.uws, 0)
  const refused = new Promise<string>((resolve) => new WebSocket(`ws://127.0.0.1:${server.port}/ws`).on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? '')))
  t.equal(await refused, 'ECONNREFUSED', 'the port no longer accepts connections')
})

t.test('an idleTimeout uWS would abort the process on is refused with an error', async (t) => {
  await t.rejects(createUwsServer({ host: '127.0.0.1', port: 0, hub: new FanoutHub(), maxPayload: 1024, maxBackpressure: 65536, idleTimeout: 5 }), /idleTimeout must be 0 or at least 8/)
})

t.test('refuses to start on the JS fallback of uWebSockets.js', async (t) => {
  const fixture = fileURLToPath(new URL('./fixtures/start-uws.ts', import.meta.url))
  const run = (env: NodeJS.ProcessEnv) => new Promise<{ code: number, stdout: string, stderr: string }>((resolve) => {
    execFile(process.execPath, ['--import=tsx', fixture], { env: { ...process.env, ...env } }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr })
    })
  })
  const [fallback, native] = await Promise.all([run({ UWS_USE_FALLBACK: '1' }), run({ UWS_USE_FALLBACK: '' })])
  t.not(fallback.code, 0, 'the process fails')
  t.match(fallback.stderr, /uWebSockets\.js native binary did not load .*UWS_USE_FALLBACK is set/)
  t.notMatch(fallback.stdout, /listening/)
  t.equal(native.code, 0, native.stderr)
  t.match(native.stdout, /listening \d+/)
})
