// docs/configuration.md and .env.example are generated from the config schema: this fails when a
// committed file differs from what scripts/config-docs.ts renders, and says how to fix it.
import t from 'tap'
import { readFileSync } from 'node:fs'
import { FIX_COMMAND, renderedFiles } from '../scripts/config-docs.ts'
import { ConfigSchema, configSections } from '../config.ts'

const root = new URL('../', import.meta.url)

/** The first line where two texts part, as "line N: committed … / generated …", or null when equal. */
function firstDifference (committed: string, generated: string): string | null {
  if (committed === generated) return null
  const a = committed.split('\n')
  const b = generated.split('\n')
  const i = a.findIndex((line, n) => line !== b[n])
  const n = i === -1 ? a.length : i
  return `line ${n + 1}:\n  committed: ${a[n] ?? '(end of file)'}\n  generated: ${b[n] ?? '(end of file)'}`
}

for (const [path, generated] of Object.entries(renderedFiles())) {
  t.test(`${path} is what the config schema generates`, async (t) => {
    const committed = readFileSync(new URL(path, root), 'utf8')
    const difference = firstDifference(committed, generated)
    t.equal(difference, null, difference === null ? `${path} is up to date` : `${path} is out of date at ${difference}\nrun \`${FIX_COMMAND}\` and commit the result`)
  })
}

t.test('every variable is documented: a section, a description and a default', async (t) => {
  const documented = Object.values(configSections).flatMap((settings) => Object.keys(settings))
  t.same(documented.sort(), Object.keys(ConfigSchema.properties).sort(), 'the sections hold the schema\'s variables, each once')
  const env = readFileSync(new URL('.env.example', root), 'utf8')
  for (const [name, schema] of Object.entries(ConfigSchema.properties)) {
    t.ok(typeof schema.description === 'string' && schema.description.length > 0, `${name} has a description`)
    t.not(schema.default, undefined, `${name} has a default`)
    t.match(env, new RegExp(`^${name}=`, 'm'), `.env.example sets ${name}`)
  }
})

t.test('the drift check names the first differing line', async (t) => {
  t.equal(firstDifference('a\nb\n', 'a\nb\n'), null)
  t.equal(firstDifference('a\nb\n', 'a\nc\n'), 'line 2:\n  committed: b\n  generated: c')
  t.equal(firstDifference('a', 'a\nb'), 'line 2:\n  committed: (end of file)\n  generated: b')
})
