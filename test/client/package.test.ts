// @switchboard/client as a user gets it: `npm pack -w client`, the tarball installed into an empty
// project outside this repository (so nothing resolves from our node_modules: no @sinclair/typebox,
// no server schemas), imported by plain Node and type-checked by a strict NodeNext tsc.
import t from 'tap'
import { spawnSync, type SpawnSyncOptions } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import ts from 'typescript'

const root = join(import.meta.dirname, '../..')
const work = mkdtempSync(join(tmpdir(), 'switchboard-client-package-'))
t.teardown(() => rmSync(work, { recursive: true, force: true }))
const project = join(work, 'project')
const installed = join(project, 'node_modules/@switchboard/client')

// no tsx loader or npm settings of this run leak into the processes a user would run
const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => name !== 'NODE_OPTIONS' && !name.startsWith('npm_')))
const run = (command: string, args: string[], options: SpawnSyncOptions) => {
  const result = spawnSync(command, args, { encoding: 'utf8', env, ...options })
  return { status: result.status, stdout: String(result.stdout), output: `${result.stdout}${result.stderr}` }
}

t.test('npm pack -w client: compiled JavaScript, bundled types and the README, no sources', async (t) => {
  const packed = run('npm', ['pack', '-w', 'client', '--pack-destination', work, '--json'], { cwd: root })
  t.equal(packed.status, 0, 'npm pack', { output: packed.output })
  // the JSON follows the prepack script's own output
  const [pack] = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('['))) as Array<{ filename: string, files: Array<{ path: string }> }>
  const files = pack.files.map((f) => f.path).sort()
  t.same(files, ['README.md', 'dist/index.d.ts', 'dist/index.js', 'package.json'], 'exactly these files')

  mkdirSync(project)
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'uses-client', private: true, type: 'module' }))
  const install = run('npm', ['install', join(work, pack.filename), '--offline', '--no-audit', '--no-fund'], { cwd: project })
  t.equal(install.status, 0, 'npm install of the tarball', { output: install.output })

  const manifest = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8'))
  t.same(manifest.exports['.'], { types: './dist/index.d.ts', browser: './dist/index.js', default: './dist/index.js' }, 'the exports map: types, and one ES module for browsers and Node')
  t.same(manifest.dependencies ?? {}, {}, 'no runtime dependencies')
})

t.test('plain Node imports it as an ES module', async (t) => {
  const script = `import * as client from '@switchboard/client'
const c = client.createClient({ url: 'ws://127.0.0.1:1/ws', autoConnect: false, WebSocket: class {} })
console.log(JSON.stringify({ exports: Object.keys(client).sort(), state: c.state }))`
  const imported = run(process.execPath, ['--input-type=module', '-e', script], { cwd: project })
  t.equal(imported.status, 0, 'node imports @switchboard/client', { output: imported.output })
  const { exports, state } = JSON.parse(imported.stdout)
  t.ok(exports.includes('createClient'), 'createClient is exported')
  t.equal(state, 'disconnected', 'and makes a client')

  // dts-bundle-generator declares a re-exported TypeBox name (schema and type) as a value too: the
  // types must promise exactly the values index.js has
  const program = ts.createProgram([join(installed, 'dist/index.d.ts')], { noEmit: true, types: [] })
  const checker = program.getTypeChecker()
  const module = checker.getSymbolAtLocation(program.getSourceFile(join(installed, 'dist/index.d.ts'))!)!
  const declared = (symbol: ts.Symbol) => symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol
  const values = checker.getExportsOfModule(module).filter((symbol) => declared(symbol).flags & ts.SymbolFlags.Value).map((symbol) => symbol.name).sort()
  t.same(values, exports, 'index.d.ts declares the values index.js exports, no more')
})

t.test('a strict NodeNext project type-checks a use of it, with nothing but the package', async (t) => {
  const types = readFileSync(join(installed, 'dist/index.d.ts'), 'utf8')
  t.notMatch(types, /\bfrom\s*['"]|import\s*\(|\/\/\/\s*<reference/, 'index.d.ts imports nothing')
  t.throws(() => createRequire(join(project, 'package.json')).resolve('@sinclair/typebox'), 'TypeBox is not resolvable from the project')

  writeFileSync(join(project, 'tsconfig.json'), JSON.stringify({
    // DOM for fetch: a browser project's lib (a Node one has @types/node); no @types at all here
    compilerOptions: { strict: true, module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', lib: ['ES2022', 'DOM'], types: [], noEmit: true },
    files: ['use.ts']
  }))
  writeFileSync(join(project, 'use.ts'), `import { createClient, SwitchboardError, type Message, type EventType } from '@switchboard/client'

const client = createClient({ url: 'ws://localhost:5002/ws', api: 'http://localhost:5001', user: { id: 'ada' }, autoConnect: false })
const general = client.channel('general')
general.on('message.created', ({ data }) => {
  const content: string = data.content
  const offset: string = data.position.offset
  // @ts-expect-error a field the message does not have
  void data.text
  void content; void offset
})
general.on('reaction.added', ({ data }) => { const emoji: string = data.emoji; void emoji })
// @ts-expect-error an event type the server never sends
general.on('message.pinned', () => {})
const typing: EventType = 'typing'
export async function send (): Promise<Message | undefined> {
  try {
    return await client.api.post({ channelId: 'general', content: 'hello' })
  } catch (err) {
    if (err instanceof SwitchboardError) console.log(err.status, typing)
  }
}
`)
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc')
  const checked = run(process.execPath, [tsc, '-p', project], { cwd: project })
  t.equal(checked.status, 0, 'tsc --noEmit', { output: checked.output })
})
