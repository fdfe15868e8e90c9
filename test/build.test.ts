// Production runs the compiled server: `tsc -p tsconfig.build.json` (what `npm run build` runs)
// emits JavaScript that plain `node` serves, topic handlers from dist/consumers included.
import t from 'tap'
import { spawn, spawnSync } from 'node:child_process'
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { once } from 'node:events'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const root = join(import.meta.dirname, '..')
// inside the repository, so the compiled server resolves node_modules as dist/ does
const out = mkdtempSync(join(root, '.build-test-'))
t.teardown(() => rmSync(out, { recursive: true, force: true }))

const freePort = async () => {
  const server = net.createServer().listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as net.AddressInfo
  server.close()
  return port
}

t.test('tsc -p tsconfig.build.json compiles the server to JavaScript', async (t) => {
  const tsc = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.build.json'), '--outDir', out], { encoding: 'utf8' })
  t.equal(tsc.status, 0, tsc.stdout + tsc.stderr)
  t.ok(existsSync(join(out, 'server.js')), 'server.js')
  const consumers = readdirSync(join(out, 'consumers')).filter((f) => f.endsWith('.js'))
  t.ok(consumers.includes('messages-store.js'), `consumers compiled (${consumers.length})`)
  t.notOk(readdirSync(out).includes('test'), 'tests are not part of the build')
})

t.test('plain node serves from the build: no transpiler, handlers from dist/consumers', async (t) => {
  cpSync(join(root, 'public'), join(out, 'public'), { recursive: true })
  const [port, wsPort] = [await freePort(), await freePort()]
  // no --import=tsx, and NODE_OPTIONS cleared: a .ts import anywhere would fail to load
  const server = spawn(process.execPath, [join(out, 'server.js')], {
    cwd: tmpdir(),
    env: { PATH: process.env.PATH, PORT: String(port), WS_PORT: String(wsPort), HOST: '127.0.0.1', LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  t.teardown(() => { server.kill('SIGKILL') })
  let output = ''
  await new Promise<void>((resolve, reject) => {
    server.stdout.on('data', (chunk) => { output += chunk; if (output.includes('switchboard ready')) resolve() })
    server.stderr.on('data', (chunk) => { output += chunk })
    server.once('exit', (code) => reject(new Error(`exited with ${code}: ${output}`)))
  })
  const base = `http://127.0.0.1:${port}`
  t.same(await (await fetch(`${base}/health`)).json(), { status: 'ok' })
  t.equal((await fetch(`${base}/`)).status, 200, 'the demo page from dist/public')
  const posted = await fetch(`${base}/api/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ channelId: 'built', content: 'hi', senderId: 'a' }) })
  t.equal(posted.status, 201)
  t.match(output, /messages-store/, 'the store handler was loaded from dist/consumers')
  const stopped = once(server, 'exit')
  server.kill('SIGTERM')
  const [code] = await stopped
  t.equal(code, 0, 'and it shuts down cleanly')
})
