// The load generator: `npm run bench -- --help`. Runs each step (transport × rate), prints a table,
// the comparison with --compare, writes --json, and exits 1 when a delivery went unaccounted for.
import { writeFile } from 'node:fs/promises'
import { availableParallelism, loadavg } from 'node:os'
import { compare, comparedTransports } from './compare.ts'
import { OptionsError, parseOptions, usage } from './options.ts'
import { comparisonText, table } from './report.ts'
import { accountedFor, type BenchResult, type StepResult } from './result.ts'
import { runStep } from './run.ts'

let parsed: ReturnType<typeof parseOptions>
try {
  parsed = parseOptions(process.argv.slice(2))
} catch (err) {
  if (!(err instanceof OptionsError)) throw err
  console.error(`bench: ${err.message}\n\n${usage}`)
  process.exit(2)
}
if (parsed === 'help') {
  console.log(usage)
  process.exit(0)
}
const options = parsed

const result: BenchResult = {
  startedAt: new Date().toISOString(),
  config: { ...options, token: options.token ? '(set)' : undefined },
  host: { cpus: availableParallelism(), loadAverage: loadavg().map((l) => Math.round(l * 100) / 100), node: process.version },
  runs: [],
  ok: false
}

const compared = comparedTransports()
const transports = options.compare ? compared.transports : [options.transport]
if (options.compare) for (const skipped of compared.skipped) console.log(`bench: --compare skips ${skipped}`)
const shape = `${options.connections} connections over ${options.channels} channels, ${options.size}-byte messages, ${options.duration} s per step`
console.log(`bench: ${shape}; rates ${options.rates.join(', ')}/s; ${transports.join(', ')}`)
try {
  for (const rate of options.rates) {
    for (const transport of transports) {
      const run: StepResult = await runStep(options, transport, rate)
      result.runs.push(run)
      if (!options.quiet) console.error(`done: ${transport} ${rate}/s on ${run.target}: p99 ${run.latencyMs.p99} ms, ${run.delivered}/${run.expectedDeliveries} delivered`)
    }
  }
} catch (err) {
  console.error(`bench: ${(err as Error).message}`)
  process.exit(1)
}

console.log(table(result.runs, options.sloP99))
if (options.compare) {
  result.comparison = compare(result.runs, options.rates, options.sloP99)
  console.log(comparisonText(result.comparison))
}
result.ok = result.runs.every(accountedFor)
if (!result.ok) console.log('NOT every delivery was accounted for: see lost / dup / ooo above')

if (options.json) {
  // One step: its figures at the top level too, next to the configuration used.
  const body = result.runs.length === 1 ? { ...result.runs[0], ...result } : result
  await writeFile(options.json, JSON.stringify(body, null, 2) + '\n')
  console.log(`results written to ${options.json}`)
}
process.exit(result.ok ? 0 : 1)
