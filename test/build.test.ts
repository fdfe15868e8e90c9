// Production runs the build: `npm run build` (scripts/build.ts) compiles the server with tsc and bundles
// the demo page's client into public/client.js, and plain `node` serves that, topic handlers from
// dist/consumers and the demo page included, with no transpiler and no bundler.
import t, { type Test } from 'tap'
import { cleanupReal, realEnv, realNames, requireServices } from './services.ts'
import { demoMessage, joinDemo, launchChromium } from './browser.ts'
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
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

t.test('npm run build compiles the server to JavaScript and bundles the demo page\'s client', async (t) => {
  const built = spawnSync(process.execPath, ['--import=tsx', join(root, 'scripts/build.ts'), out], { cwd: root, encoding: 'utf8' })
  t.equal(built.status, 0, built.stdout + built.stderr)
  t.ok(existsSync(join(out, 'server.js')), 'server.js')
  t.ok(existsSync(join(out, 'public/index.html')), 'the demo page')
  t.match(readFileSync(join(out, 'public/client.js'), 'utf8'), /export\s*\{[^}]*createClient/, 'public/client.js: @switchboard/client as one ES module')
  t.notOk(existsSync(join(out, 'scripts')), 'the build script is not part of the build')
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
  const server = await startBuilt(t)
  t.same(await (await fetch(`${server.base}/health`)).json(), { status: 'ok' })
  t.equal((await fetch(`${server.base}/`)).status, 200, 'the demo page from dist/public')
  const script = await fetch(`${server.base}/client.js`)
  t.equal(script.status, 200, '/client.js')
  t.match(script.headers.get('content-type'), /javascript/)
  t.equal(await script.text(), readFileSync(join(out, 'public/client.js'), 'utf8'), 'the file the build wrote, as it is')
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

t.test('the demo page works from the build, as `npm start` serves it: two users chat in Chromium', async (t) => {
  const browser = await launchChromium(t)
  if (!browser) return
  const server = await startBuilt(t)
  const errors: string[] = []
  const ada = await joinDemo(browser, `${server.base}/`, 'Ada', 'built-demo', errors)
  const grace = await joinDemo(browser, `${server.base}/`, 'Grace', 'built-demo', errors)
  await ada.fill('#content', 'hello from the build')
  await ada.press('#content', 'Enter')
  await demoMessage(grace, 'hello from the build').waitFor()
  t.equal(await demoMessage(grace, 'hello from the build').locator('.sender').textContent(), 'Ada', "Grace sees Ada's message, signed")
  // the page's own modules (pinned list, thread panel, message items) come from dist/public too
  await demoMessage(grace, 'hello from the build').locator('.pin').click()
  await ada.locator('#pins li', { hasText: 'hello from the build' }).waitFor()
  await demoMessage(ada, 'hello from the build').locator('.open-thread').click()
  await ada.fill('#reply-content', 'a reply from the build')
  await ada.press('#reply-content', 'Enter')
  await ada.locator('#replies .message', { hasText: 'a reply from the build' }).waitFor()
  await demoMessage(grace, 'hello from the build').locator('.open-thread', { hasText: '1 reply' }).waitFor()
  t.pass("Grace's pin reaches Ada's pinned list; Ada's reply shows in her thread panel and as a reply count for Grace")
  t.same(errors, [], 'no uncaught errors in either page')
})

t.test('the Docker image serves the same page: its run stage holds the build, client bundle included', async (t) => {
  // No Docker engine here: read the Dockerfile's stages instead of building the image.
  const stages = readFileSync(join(root, 'Dockerfile'), 'utf8').split(/^FROM /m).slice(1)
  t.equal(stages.length, 2, 'a build stage and a run stage')
  const [buildStage, runStage] = stages
  t.match(buildStage, /^RUN npm ci --ignore-scripts$/m, 'the install before the sources runs no package script (none has its sources yet)')
  t.match(buildStage, /^COPY \. \.$[\s\S]*^RUN npm run build$/m, 'the build stage runs npm run build over the whole source tree')
  t.match(runStage, /^COPY --from=build \/app\/dist \.\/dist$/m, 'the run stage copies dist/ whole')
  t.match(runStage, /^CMD \["node", "dist\/server\.js"\]$/m, 'and serves it with plain node')
  t.match(runStage, /npm ci --omit=dev/, 'with production dependencies only')
  const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
  t.equal(manifest.scripts.build, 'tsx scripts/build.ts', 'npm run build is the build the tests above ran (public/client.js in dist/)')
  t.notOk(manifest.dependencies.esbuild, 'no bundler among the production dependencies')
  const ignored = readFileSync(join(root, '.dockerignore'), 'utf8').split('\n').map((line) => line.trim())
  for (const source of ['client', 'public', 'scripts']) t.notOk(ignored.includes(source), `${source}/ reaches the build stage`)
})
