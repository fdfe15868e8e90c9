// The Kafka bus is kept in rooms (issue 23): plugins/bus/kafka/ holds files of one job each, none
// over 250 lines. A file that grows past that names itself here, to be split by its jobs.
import t from 'tap'
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const MAX_LINES = 250
const busDir = join(import.meta.dirname, '..', '..', 'plugins', 'bus', 'kafka')

/** Lines as `wc -l` counts them: a final newline ends the last line, it does not start another. */
function linesOf (text: string): number {
  if (text === '') return 0
  return text.split('\n').length - (text.endsWith('\n') ? 1 : 0)
}

/** The TypeScript files of `dir` over `MAX_LINES`, as "name: N lines". */
function oversized (dir: string): string[] {
  return readdirSync(dir)
    .filter((name) => name.endsWith('.ts'))
    .map((name) => ({ name, lines: linesOf(readFileSync(join(dir, name), 'utf8')) }))
    .filter(({ lines }) => lines > MAX_LINES)
    .map(({ name, lines }) => `${name}: ${lines} lines`)
}

t.test(`no file in plugins/bus/kafka/ is over ${MAX_LINES} lines`, async (t) => {
  const files = readdirSync(busDir).filter((name) => name.endsWith('.ts'))
  t.ok(files.includes('consumer.ts') && files.includes('producer.ts'), `the bus's files are found (${files.length})`)
  t.same(oversized(busDir), [], `split any file listed by its jobs (limit ${MAX_LINES} lines)`)
})

t.test('the check names a file over the limit, and passes one at it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bus-layout-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  writeFileSync(join(dir, 'at-limit.ts'), 'x\n'.repeat(MAX_LINES))
  writeFileSync(join(dir, 'over.ts'), 'x\n'.repeat(MAX_LINES + 1))
  writeFileSync(join(dir, 'notes.md'), 'x\n'.repeat(MAX_LINES + 1))
  t.same(oversized(dir), [`over.ts: ${MAX_LINES + 1} lines`])
})
