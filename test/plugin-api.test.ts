// The plugin API's one entry (plugin-api.ts) exports everything docs/extending.md shows plugin authors
// importing, the docs' plugin examples type-check against it, and the plugin code kept in the
// repository (the docs' examples, the test fixture, examples/) reaches switchboard through it alone.
import t, { type Test } from 'tap'
import { readFile, readdir } from 'node:fs/promises'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
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

/**
 * One compiler program (the project's tsconfig) over the entry and the docs' examples that import it,
 * written one level below the root as the docs' '../plugin-api.ts' says.
 */
async function compile (t: Test) {
  const doc = await readFile(`${root}docs/extending.md`, 'utf8')
  const blocks = tsBlocks(doc).filter((code) => importsOf(code).some((i) => i.from === `../${ENTRY}`))
  const dir = mkdtempSync(join(root, '.build-test-docs-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const examples = blocks.map((code, i) => {
    const file = join(dir, `example-${i + 1}.ts`)
    writeFileSync(file, code)
    return { file, code }
  })
  const config = ts.parseJsonConfigFileContent(ts.readConfigFile(`${root}tsconfig.json`, ts.sys.readFile).config, ts.sys, root)
  const program = ts.createProgram([`${root}${ENTRY}`, ...examples.map((e) => e.file)], config.options)
  const checker = program.getTypeChecker()
  /** Everything the entry exports, types included, as the compiler sees it. */
  const exported = new Set(checker.getExportsOfModule(checker.getSymbolAtLocation(program.getSourceFile(`${root}${ENTRY}`)!)!).map((s) => s.name))
  return { program, examples, exported }
}

const isRelative = (from: string) => from.startsWith('.')

t.test('plugin-api.ts exports every name docs/extending.md imports from it, and the examples type-check', async (t) => {
  const doc = await readFile(`${root}docs/extending.md`, 'utf8')
  const fromEntry = tsBlocks(doc).flatMap(importsOf).filter((i) => i.from.endsWith(ENTRY)).flatMap((i) => i.names)
  t.ok(fromEntry.length >= 20, `the docs import the plugin API from ${ENTRY} (${fromEntry.length} names)`)
  const { program, examples, exported } = await compile(t)
  for (const name of new Set(fromEntry)) t.ok(exported.has(name), `${ENTRY} exports ${name}`)
  // and the values among them exist at run time
  for (const name of ['defineTopicHandler', 'defineTopic', 'topics', 'Envelope', 'TransientError', 'personalChannel', 'statusChannel']) {
    t.ok(fromEntry.includes(name), `the docs show ${name}`)
    t.ok(name in api, `${name} is a value of the entry`)
  }
  t.equal(api.personalChannel('ada'), 'user:ada')
  t.equal(api.statusChannel('ada'), 'status:ada')

  t.ok(examples.length >= 4, `${examples.length} examples import ../${ENTRY}`)
  for (const { file, code } of examples) {
    const source = program.getSourceFile(file)!
    const errors = [...program.getSyntacticDiagnostics(source), ...program.getSemanticDiagnostics(source)]
      .map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'))
    t.same(errors, [], `the example that starts ${JSON.stringify(code.split('\n')[0])} type-checks`)
  }
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
