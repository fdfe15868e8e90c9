// The ratios of switchboard against the references from sweeps run apart, each written with --json:
// for a rig where the generator has a machine of its own and each server was started by hand
// (`npm start` with RATE_LIMIT_MAX=0, `npm run bench:serve -- socketio`), every sweep run with
// --target on the same workload.
//   npm run bench:ratios -- switchboard.json socketio.json [seed.json …]
import { readFile } from 'node:fs/promises'
import { compareApart } from './compare.ts'
import { comparisonText } from './report.ts'
import type { BenchResult } from './result.ts'

const files = process.argv.slice(2)
if (files.length < 2) {
  console.error('usage: npm run bench:ratios -- SWITCHBOARD.json REFERENCE.json [REFERENCE.json …] (each from npm run bench -- … --json FILE)')
  process.exit(2)
}
try {
  const results = await Promise.all(files.map(async (file) => ({ file, result: JSON.parse(await readFile(file, 'utf8')) as BenchResult })))
  console.log(comparisonText(compareApart(results)))
} catch (err) {
  console.error(`bench:ratios: ${(err as Error).message}`)
  process.exit(2)
}
