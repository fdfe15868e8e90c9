// The plugin API's one entry (plugin-api.ts) exports everything docs/extending.md shows plugin authors
// importing, and the plugin code kept in the repository (the docs' examples, the test fixture,
// examples/) reaches switchboard through it alone.
import t from 'tap'
import { readFile, readdir } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'
import * as api from '../plugin-api.ts'

const root = fileURLToPath(new URL('..', import.meta.url))
const ENTRY = 'plugin-api.ts'

interface Import { from: string, names: string[] }

/** The import declarations of a piece of TypeScript: where from, and which names (without `type`). */
function importsOf (code: string): Import[] {
  const source = ts.createSourceFile('block.ts', code, ts.ScriptTarget.ES2022)
  return source.statements.filter(ts.isImportDeclaration).map((decl) => {
    const bindings = decl.importClause?.namedBindings
    return {
      from: (decl.moduleSpecifier as ts.StringLiteral).text,
      names: bindings && ts.isNamedImports(bindings) ? bindings.elements.map((e) => (e.propertyName ?? e.name).text) : []
    }
  })
}

/** The code of the ```ts blocks of a markdown file. */
function tsBlocks (markdown: string): string[] {
  return [...markdown.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1])
}

/** Everything plugin-api.ts exports, types included, as the compiler sees it. */
function entryExports (): Set<string> {
  const file = `${root}${ENTRY}`
  const program = ts.createProgram([file], { module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, allowImportingTsExtensions: true, noEmit: true, noResolve: false, types: [] })
  const checker = program.getTypeChecker()
  const symbol = checker.getSymbolAtLocation(program.getSourceFile(file)!)!
  return new Set(checker.getExportsOfModule(symbol).map((s) => s.name))
}

const isRelative = (from: string) => from.startsWith('.')

t.test('plugin-api.ts exports every name docs/extending.md imports from it', async (t) => {
  const doc = await readFile(`${root}docs/extending.md`, 'utf8')
  const fromEntry = tsBlocks(doc).flatMap(importsOf).filter((i) => i.from.endsWith(ENTRY)).flatMap((i) => i.names)
  t.ok(fromEntry.length >= 20, `the docs import the plugin API from ${ENTRY} (${fromEntry.length} names)`)
  const exported = entryExports()
  for (const name of new Set(fromEntry)) t.ok(exported.has(name), `${ENTRY} exports ${name}`)
  // and the values among them exist at run time
  for (const name of ['defineTopicHandler', 'defineTopic', 'topics', 'Envelope', 'TransientError', 'personalChannel', 'statusChannel']) {
    t.ok(fromEntry.includes(name), `the docs show ${name}`)
    t.ok(name in api, `${name} is a value of the entry`)
  }
  t.equal(api.personalChannel('ada'), 'user:ada')
  t.equal(api.statusChannel('ada'), 'status:ada')
})

t.test('plugin code reaches switchboard through plugin-api.ts only', async (t) => {
  const doc = await readFile(`${root}docs/extending.md`, 'utf8')
  // The docs' blocks, except the files counted into switchboard itself (schemas/… import their neighbours).
  const pluginBlocks = tsBlocks(doc).filter((code) => !code.startsWith('// schemas/'))
  const files: Array<[string, string]> = pluginBlocks.map((code, i) => [`docs/extending.md block ${i + 1}`, code])
  for (const dir of ['test/fixtures/consumers', ...(await readdir(`${root}examples`)).map((d) => `examples/${d}`)]) {
    for (const file of (await readdir(`${root}${dir}`)).filter((f) => f.endsWith('.ts'))) {
      files.push([`${dir}/${file}`, await readFile(`${root}${dir}/${file}`, 'utf8')])
    }
  }
  t.ok(files.some(([name]) => name.startsWith('examples/')), 'examples/ holds a plugin')
  for (const [name, code] of files) {
    const relative = importsOf(code).map((i) => i.from).filter(isRelative)
    // a plugin's own files import one another ('./…'); switchboard's only through the entry
    const outside = relative.filter((from) => from.startsWith('..') && !from.endsWith(ENTRY))
    t.same(outside, [], `${name} imports switchboard only from ${ENTRY}`)
  }
})
