// The channel kinds the server names for a user (`user:<id>`, `status:<id>`) are declared once, in
// schemas/channel-kinds.ts: the server, the client and the demo page take them from there. This fails
// when a string literal starting with one of the prefixes comes back anywhere else in the code.
import t from 'tap'
import { readdirSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { PERSONAL_PREFIX, STATUS_PREFIX } from '../schemas/channel-kinds.ts'

const root = join(import.meta.dirname, '..')
const declaration = 'schemas/channel-kinds.ts'
const folders = ['app.ts', 'server.ts', 'config.ts', 'plugin-api.ts', 'logger.ts', 'client/src', 'public', 'routes', 'plugins', 'consumers', 'fanout', 'schemas', 'examples']
/** Literals with a prefix that names no channel: other namespaces that happen to read `user:`. */
const otherNamespaces: Record<string, string> = {
  'plugins/external/rate-limit.ts': 'the rate limiter\'s key of a signed-in user',
  'routes/messages.ts': 'the scope of a sender\'s idempotency nonces'
}

/** The .ts and .js files under a path (a file or a folder), node_modules and build output left out. */
function sources (path: string): string[] {
  const full = join(root, path)
  if (/\.(ts|js)$/.test(path)) return [full]
  return readdirSync(full, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && /\.(ts|js)$/.test(entry.name))
    .map((entry) => join(entry.parentPath, entry.name))
    .filter((file) => !/[/\\](node_modules|dist)[/\\]/.test(relative(root, file)))
}

/** The code of a file without its comments, which may name the channels in prose (lines kept, to count them). */
const code = (text: string) => text.replace(/\/\*[\s\S]*?\*\//g, (comment) => comment.replace(/[^\n]/g, '')).replace(/(^|[^:'"`\\])\/\/.*$/gm, '$1')

/** String literals (quoted or template) that start with a channel-kind prefix, as `line N: …`. */
function prefixLiterals (text: string): string[] {
  const pattern = new RegExp(`['"\`](${[PERSONAL_PREFIX, STATUS_PREFIX].map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|')})`)
  return code(text).split('\n').flatMap((line, i) => pattern.test(line) ? [`line ${i + 1}: ${line.trim()}`] : [])
}

const files = folders.flatMap(sources).map((file) => relative(root, file).split('\\').join('/'))

t.test('the pattern finds the declaration itself', async (t) => {
  t.ok(files.includes(declaration), `${declaration} is among the ${files.length} files scanned`)
  t.ok(files.includes('client/src/unread.ts') && files.includes('public/app.js'), 'the client and the demo page are scanned')
  t.equal(prefixLiterals(readFileSync(join(root, declaration), 'utf8')).length, 2, 'both prefixes are literals there')
})

t.test(`no prefix literal outside ${declaration}`, async (t) => {
  const found = files.filter((file) => file !== declaration && !(file in otherNamespaces))
    .flatMap((file) => prefixLiterals(readFileSync(join(root, file), 'utf8')).map((line) => `${file} ${line}`))
  t.same(found, [], 'use personalChannel / isPersonalChannel / statusChannel / isStatusChannel (schemas/channel-kinds.ts, or the client\'s exports)')
})

t.test('the exceptions are still needed, each for a namespace that is no channel', async (t) => {
  for (const [file, why] of Object.entries(otherNamespaces)) {
    t.ok(prefixLiterals(readFileSync(join(root, file), 'utf8')).length > 0, `${file}: ${why}`)
  }
})
