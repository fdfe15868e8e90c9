// Prints the capacity model of docs/scaling.md for a workload, from the figures in
// scripts/capacity-figures.ts (arithmetic only; nothing is measured here).
//   npm run capacity -- --connections 1000000 --rate 100000 --subscribers 10 [--figures]
import { parseArgs } from 'node:util'
import { figuresTable, values } from './capacity-figures.ts'
import { plan, planTable } from './capacity-model.ts'

const { values: options } = parseArgs({
  options: {
    connections: { type: 'string', default: '1000000' },
    rate: { type: 'string', default: '100000' },
    subscribers: { type: 'string', default: '10' },
    figures: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false }
  }
})
if (options.help) {
  console.log('npm run capacity -- --connections N --rate R --subscribers S [--figures]\n  R: messages posted per second; S: subscribers each message is delivered to; --figures: the figures too')
  process.exit(0)
}
const workload = { connections: Number(options.connections), rate: Number(options.rate), subscribers: Number(options.subscribers) }
for (const [name, value] of Object.entries(workload)) {
  if (!Number.isFinite(value) || value <= 0) {
    console.error(`--${name} must be a positive number`)
    process.exit(2)
  }
}
console.log(`${workload.connections.toLocaleString('en-US')} connections, ${workload.rate.toLocaleString('en-US')} posts/s, ${workload.subscribers} subscribers each (docs/scaling.md, "Capacity model")\n`)
console.log(planTable(workload, plan(values, workload)))
if (options.figures) console.log(`\n${figuresTable()}`)
