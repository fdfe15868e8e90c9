// The request log never carries a credential: the token browsers send in the WebSocket URL is redacted.
import { once } from 'node:events'
import { spawn } from 'node:child_process'
import { Writable } from 'node:stream'
import t from 'tap'
import Fastify from 'fastify'
import WebSocket from 'ws'
import App, { serverOptions } from '../app.ts'
import { loadConfig } from '../config.ts'
import { loggerOptions, prettyLogs, redactUrl } from '../logger.ts'
import { secret, token } from './tokens.ts'

t.test('a WebSocket token in the API port\'s /ws URL never reaches the info-level log', async (t) => {
  const config = loadConfig({}, { PORT: 0, WS_PORT: 0, LOG_LEVEL: 'info', JWT_SECRET: secret })
  const lines: string[] = []
  const stream = new Writable({ write (chunk, _encoding, done) { lines.push(...chunk.toString().split('\n').filter(Boolean)); done() } })
  const app = Fastify({ ...serverOptions(config), logger: { ...loggerOptions(config), stream } })
  await app.register(App, { config })
  t.teardown(() => app.close())
  await app.listen({ host: '127.0.0.1', port: 0 })
  const { port } = app.server.address() as { port: number }

  const jwt = token({ sub: 'alice' })
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws?token=${jwt}&user=x`)
  const [ready] = await once(ws, 'message')
  t.match(JSON.parse(ready.toString()), { op: 'ready' }, 'the token was accepted')
  const closed = once(ws, 'close')
  ws.close()
  await closed
  // the query parser decodes names: `%74oken` is `token`, and authenticates
  const encoded = new WebSocket(`ws://127.0.0.1:${port}/ws?%74oken=${jwt}`)
  const [encodedReady] = await once(encoded, 'message')
  t.match(JSON.parse(encodedReady.toString()), { op: 'ready', user: 'alice' }, 'a percent-encoded name is the token too')
  const encodedClosed = once(encoded, 'close')
  encoded.close()
  await encodedClosed
  // an HTTP request after it: its log line is written after the upgrade's
  t.equal((await app.inject({ url: '/health?access_token=abc.def' })).statusCode, 200)

  const requests = lines.map((l) => JSON.parse(l)).filter((l) => l.req)
  const upgrade = requests.find((l) => l.req.url.startsWith('/ws'))
  t.ok(upgrade, 'the upgrade request is logged at info')
  t.equal(upgrade?.req.url, '/ws?token=[redacted]&user=x', 'with its token redacted and the rest kept')
  t.ok(requests.some((l) => l.req.url === '/ws?%74oken=[redacted]'), 'redacted by the name the parser decodes')
  t.ok(requests.some((l) => l.req.url === '/health?access_token=[redacted]'), 'access_token too')
  t.notOk(lines.some((l) => l.includes(jwt) || l.includes(jwt.split('.')[2])), 'no line holds the token or its signature')
  t.notOk(lines.some((l) => l.includes('abc.def')), 'nor the other credential')
})

t.test('redactUrl replaces only credential values', async (t) => {
  t.equal(redactUrl('/ws'), '/ws')
  t.equal(redactUrl('/ws?user=bob'), '/ws?user=bob')
  t.equal(redactUrl('/ws?TOKEN=a.b.c'), '/ws?TOKEN=[redacted]')
  t.equal(redactUrl('/ws?user=bob&token=a.b.c&x=1&token=d'), '/ws?user=bob&token=[redacted]&x=1&token=[redacted]')
  t.equal(redactUrl('/ws?notatoken=keep'), '/ws?notatoken=keep')
  // by the name the query parser decodes: these all authenticate as `token`
  t.equal(redactUrl('/ws?%74oken=a.b.c'), '/ws?%74oken=[redacted]')
  t.equal(redactUrl('/ws?user=bob&tok%65n=a.b.c'), '/ws?user=bob&tok%65n=[redacted]')
  t.equal(redactUrl('/ws?access%5Ftoken=a.b.c'), '/ws?access%5Ftoken=[redacted]')
  t.equal(redactUrl('/ws#token=a.b.c'), '/ws#token=[redacted]', 'the router also starts a query at #')
  t.equal(redactUrl('/ws?token'), '/ws?token=[redacted]')
  t.equal(redactUrl('/ws?%zz=keep&token=a'), '/ws?%zz=keep&token=[redacted]', 'a name that does not decode is kept')
})

t.test('log format: human-readable on a terminal in development, JSON lines otherwise', async (t) => {
  t.equal(prettyLogs('auto', true), true, 'a terminal, pino-pretty installed: pretty')
  t.equal(prettyLogs('auto', false), false, 'a pipe or a file (production, log shippers): JSON')
  t.equal(prettyLogs('json', true), false, 'LOG_FORMAT=json wins over a terminal')
  t.equal(prettyLogs('pretty', false), true, 'LOG_FORMAT=pretty wins over a pipe')
  t.notOk('transport' in loggerOptions(loadConfig({}), false), 'no transport thread for JSON')
})

t.test('the server writes JSON lines to a pipe, and pretty lines when asked', async (t) => {
  const firstLines = (env: Record<string, string>) => new Promise<string>((resolve, reject) => {
    const child = spawn(process.execPath, ['--import=tsx', 'server.ts'], { env: { ...process.env, PORT: '0', WS_PORT: '0', HOST: '127.0.0.1', ...env }, stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    child.stdout.on('data', (chunk) => {
      out += chunk
      if (out.includes('switchboard ready')) { child.kill('SIGTERM'); resolve(out) }
    })
    child.once('exit', () => resolve(out))
    child.once('error', reject)
  })
  const json = await firstLines({ LOG_FORMAT: 'auto' })
  const line = json.split('\n').find((l) => l.includes('switchboard ready'))!
  t.match(JSON.parse(line), { level: 30, msg: /^switchboard ready/ }, 'a JSON line')
  const pretty = await firstLines({ LOG_FORMAT: 'pretty' })
  const human = pretty.split('\n').find((l) => l.includes('switchboard ready'))!
  t.throws(() => JSON.parse(human), 'not JSON')
  t.match(human, /INFO.*switchboard ready/, 'a level name and the message')
})
