// Production runs the compiled server: `tsc -p tsconfig.build.json` (what `npm run build` runs)
// emits JavaScript that plain `node` serves, topic handlers from dist/consumers included.
import t, { type Test } from 'tap'
import { cleanupReal, realEnv, realNames, requireServices } from './services.ts'
import { spawn, spawnSync } from 'node:child_process'
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
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

/** Runs the compiled server with plain node (no --import=tsx, NODE_OPTIONS cleared: a .ts import anywhere fails to load) until it logs ready. */
async function startBuilt (t: Test, env: Record<string, string> = {}) {
  const [port, wsPort] = [await freePort(), await freePort()]
  const server = spawn(process.execPath, [join(out, 'server.js')], {
    cwd: tmpdir(),
    env: { PATH: process.env.PATH, PORT: String(port), WS_PORT: String(wsPort), HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  t.teardown(() => { server.kill('SIGKILL') })
  let output = ''
  await new Promise<void>((resolve, reject) => {
    server.stdout.on('data', (chunk) => { output += chunk; if (output.includes('switchboard ready')) resolve() })
    server.stderr.on('data', (chunk) => { output += chunk })
    server.once('exit', (code) => reject(new Error(`exited with ${code}: ${output}`)))
  })
  const post = () => fetch(`http://127.0.0.1:${port}/api/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ channelId: 'built', content: 'hi', senderId: 'a' }) })
  const stop = async () => {
    const stopped = once(server, 'exit')
    server.kill('SIGTERM')
    return (await stopped)[0] as number | null
  }
  return { base: `http://127.0.0.1:${port}`, output: () => output, post, stop }
}

t.test('the build imports no .ts file (tsc rewrites the extension in static imports, not in import() calls)', async (t) => {
  const js = (readdirSync(out, { recursive: true }) as string[]).filter((f) => f.endsWith('.js'))
  const wrong = js.flatMap((f) => [...readFileSync(join(out, f), 'utf8').matchAll(/(?:from\s*|import\s*\(\s*)['"](\.{1,2}\/[^'"]+\.ts)['"]/g)].map((m) => `${f}: ${m[1]}`))
  t.same(wrong, [], 'every relative import names a .js file')
})

t.test('plain node serves from the build: no transpiler, handlers from dist/consumers', async (t) => {
  cpSync(join(root, 'public'), join(out, 'public'), { recursive: true })
  const server = await startBuilt(t)
  t.same(await (await fetch(`${server.base}/health`)).json(), { status: 'ok' })
  t.equal((await fetch(`${server.base}/`)).status, 200, 'the demo page from dist/public')
  t.equal((await server.post()).status, 201)
  t.match(server.output(), /messages-store/, 'the store handler was loaded from dist/consumers')
  t.equal(await server.stop(), 0, 'and it shuts down cleanly')
})

t.test('plain node serves from the build on Kafka, Redis and MongoDB (their clients are imported only then)', async (t) => {
  if (!await requireServices(t, 'kafka', 'redis', 'mongo')) return
  const names = realNames('build')
  t.teardown(() => cleanupReal(names))
  const server = await startBuilt(t, realEnv(names))
  const ready = await fetch(`${server.base}/ready`)
  const { checks } = await ready.json() as { checks: Record<string, unknown> }
  t.equal(ready.status, 200, `ready: ${JSON.stringify(checks)}`)
  for (const service of ['kafka', 'redis', 'mongo']) t.ok(Object.keys(checks).some((name) => name.includes(service)), `checked ${service}`)
  t.equal((await server.post()).status, 201, 'a post is produced to Kafka')
  t.equal(await server.stop(), 0, 'and it shuts down cleanly')
})
