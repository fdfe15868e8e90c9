// docs/configuration.md and .env.example, written from the config schema (config.ts) so that the
// reference cannot drift from what the server reads: `npm run docs:config` rewrites both, and
// test/config-docs.test.ts fails when the committed files differ from what this renders.
import { writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { TSchema } from '@sinclair/typebox'
import { configSections } from '../config.ts'

export const CONFIG_DOC = 'docs/configuration.md'
export const ENV_EXAMPLE = '.env.example'
export const FIX_COMMAND = 'npm run docs:config'

interface Setting { name: string, schema: TSchema }

const sections = Object.entries(configSections).map(([title, properties]) => ({
  title,
  settings: Object.entries(properties).map(([name, schema]): Setting => ({ name, schema }))
}))

/** What values a setting takes, as a reader would say it. */
function accepts (schema: TSchema): string {
  if (schema.anyOf) {
    const literals = (schema.anyOf as TSchema[]).map((s) => s.const)
    if (literals.every((v) => v !== undefined)) return `one of ${literals.join(', ')}`
    return (schema.anyOf as TSchema[]).map((s) => s.const !== undefined ? String(s.const) : accepts(s)).join(' or ')
  }
  const kind = schema.type === 'integer' ? 'integer' : schema.type === 'number' ? 'number' : 'text'
  const { minimum, maximum } = schema as { minimum?: number, maximum?: number }
  if (minimum !== undefined && maximum !== undefined) return `${kind} ${minimum}–${maximum}`
  if (minimum !== undefined) return `${kind} ≥ ${minimum}`
  return kind
}

const shownDefault = (schema: TSchema) => schema.default === '' ? '(empty)' : String(schema.default)
const cell = (text: string) => text.replace(/\|/g, '\\|')
const examples = (schema: TSchema) => (schema.examples as string[] | undefined) ?? []

export function renderConfigurationDoc (): string {
  const lines = [
    '# Configuration',
    '',
    `<!-- Generated from config.ts by scripts/config-docs.ts: edit the schema, then run \`${FIX_COMMAND}\`. -->`,
    '',
    'Every setting is an environment variable, read once at start and checked against one TypeBox schema',
    '(`config.ts`; nothing else reads `process.env`). A bad value stops the process with a message naming',
    'the variable: `invalid configuration: PORT Expected integer (got "abc")`. A few checks go beyond the',
    'schema and stop the start the same way: a `JWT_PUBLIC_KEY` that does not parse, a `JWT_SECRET` under',
    '32 characters or both set, an API key under 24 characters, a `MODERATION_BLOCKLIST` pattern that does',
    'not compile, a `MONGO_URL` that is not a MongoDB URL, a `MONGO_DB` that disagrees with it.',
    '',
    'Nothing set means embedded mode: the event log, cache and store run in-process. Set `KAFKA_BROKERS`,',
    '`REDIS_URL` and `MONGO_URL` to use Kafka, Redis and MongoDB; a configured service that is unreachable',
    'is an error (`/ready` fails and the log names it), never a silent switch to the embedded one.',
    '',
    '`npm start` does not read a file: export the variables, or copy [`.env.example`](../.env.example)',
    '(every variable with its default) to `.env` and run `node --env-file=.env dist/server.js`.',
    ''
  ]
  for (const { title, settings } of sections) {
    lines.push(`## ${title}`, '', '| variable | default | accepts | meaning |', '| --- | --- | --- | --- |')
    for (const { name, schema } of settings) {
      const e = examples(schema)
      const meaning = [schema.description as string, ...(e.length ? [`e.g. ${e.map((x) => `\`${x}\``).join(', ')}`] : [])].join('; ')
      lines.push(`| \`${name}\` | ${cell(shownDefault(schema))} | ${cell(accepts(schema))} | ${cell(meaning)} |`)
    }
    lines.push('')
  }
  return lines.join('\n')
}

/** Wraps a comment at 100 columns. */
function comment (text: string): string[] {
  const out: string[] = []
  let line = '#'
  for (const word of text.split(/\s+/)) {
    if (line.length + word.length + 1 > 100 && line !== '#') { out.push(line); line = '#' }
    line += ` ${word}`
  }
  out.push(line)
  return out
}

export function renderEnvExample (): string {
  const lines = [
    `# switchboard configuration: every variable with its default. Generated from config.ts (${FIX_COMMAND});`,
    '# the reference is docs/configuration.md. Nothing set = embedded mode.',
    '# (npm start does not read this file: export the variables, or use `node --env-file=.env dist/server.js`.)',
    ''
  ]
  for (const { title, settings } of sections) {
    lines.push(`# === ${title} ===`, '')
    for (const { name, schema } of settings) {
      const kind = accepts(schema)
      lines.push(...comment(kind === 'text' ? schema.description as string : `${schema.description as string} (${kind})`))
      for (const example of examples(schema)) lines.push(`# e.g. ${name}=${example}`)
      lines.push(`${name}=${String(schema.default)}`, '')
    }
  }
  return lines.join('\n')
}

/** The files this script owns, by path relative to the repository, with what they should hold. */
export function renderedFiles (): Record<string, string> {
  return { [CONFIG_DOC]: renderConfigurationDoc(), [ENV_EXAMPLE]: renderEnvExample() }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const root = fileURLToPath(new URL('..', import.meta.url))
  for (const [path, text] of Object.entries(renderedFiles())) {
    writeFileSync(root + path, text)
    console.log(`wrote ${path}`)
  }
}
