// The capacity model (docs/scaling.md, "Capacity model"): its arithmetic for the issue's case, and
// the doc's two tables (figures, plan) against what scripts/capacity-figures.ts and
// scripts/capacity-model.ts give, so that neither drifts from the other.
import t from 'tap'
import { readFileSync } from 'node:fs'
import { figures, figuresTable, values } from '../scripts/capacity-figures.ts'
import { plan, planTable } from '../scripts/capacity-model.ts'

const doc = readFileSync(new URL('../docs/scaling.md', import.meta.url), 'utf8')
const issueCase = { connections: 1_000_000, rate: 100_000, subscribers: 10 }

/** The text between `<!-- capacity:NAME -->` and `<!-- /capacity:NAME -->` in the doc. */
function block (name: string): string | undefined {
  return new RegExp(`<!-- capacity:${name} -->\\n([\\s\\S]*?)\\n<!-- /capacity:${name} -->`).exec(doc)?.[1]
}

t.test('1,000,000 connections, 100,000 posts/s, 10 subscribers each', async (t) => {
  const p = plan(values, issueCase)
  t.equal(p.deliveries, 1_000_000)
  // write path: 627 − 10 × 13.8 − 51.2 = 437.8 µs; api 437.8 × 0.67 × 1.25 = 366.7 µs, workers 180.6 µs
  t.equal(Math.round(p.apiUs), 367)
  t.equal(Math.round(p.workersUs), 181)
  t.equal(p.api, 62, '100,000 × 366.7 µs over 0.6 of a core = 61.1 → 62')
  t.equal(p.partitionRate, 3322, 'one workers instance: 600,000 / 180.6 µs (the recovery slot allows 13,000)')
  // fanout: 1,000,000 × 13.8 + 100,000 × 51.2 = 18.92 cores of work, 31.5 budgets → 32 partitions → 33 for 3 brokers
  t.equal(p.partitions, 33)
  t.equal(p.fanout, 33, 'one partition per fanout instance: 18.92 / 33 = 0.57 of a core each')
  t.equal(p.workers, 31, '100,000 × 180.6 µs over 0.6 of a core = 30.1 → 31')
  t.equal(p.connectionsPerFanout, 30_304)
  t.equal(Math.round(p.fanoutMemoryMB), 327)
  t.equal(p.brokers, 3, 'replication factor 3; 21.5 cores of broker CPU on brokers of 8; 94.5 MB/s in over 3')
  t.equal(Math.round(p.brokerCpu * 10) / 10, 21.5)
  t.equal(p.redisShards, 23, '100,000 × 136.6 µs over 0.6 of a core = 22.8 → 23')
  t.equal(p.redisCommands, 3_040_000)
  t.equal(p.storeWrites, 100_000)
  t.equal(p.storeRequests, 660, '33 partitions × 20 fetches a second')
  t.equal(p.storeNodes, 2, '100,000 × 67 µs over 0.6 = 11.2 cores, on nodes of 8')
  t.equal(p.unroutedWall, 11_718, '600,000 µs / 51.2 µs per record read')
})

t.test('the plan follows the workload', async (t) => {
  const base = plan(values, issueCase)
  const more = plan(values, { ...issueCase, subscribers: 50 })
  t.ok(more.fanout > base.fanout, 'more subscribers per message: more fanout instances')
  t.equal(more.api, base.api, 'the same posts: the same api instances')
  t.equal(more.redisShards, base.redisShards, 'Redis works per message, not per delivery')
  const small = plan(values, { connections: 5000, rate: 1000, subscribers: 10 })
  t.same([small.api, small.workers, small.fanout, small.redisShards, small.brokers, small.partitions], [1, 1, 1, 1, 3, 3], 'a small workload: one of each, three brokers for the replicas')
  const half = plan({ ...values, cpuBudget: 0.3 }, issueCase)
  t.ok(half.api >= 2 * base.api - 1 && half.redisShards >= 2 * base.redisShards - 1, 'half the CPU budget: about twice the instances')
})

t.test('docs/scaling.md quotes the figures and the plan as they are', async (t) => {
  t.equal(block('figures'), figuresTable(), 'the figures table is what figuresTable() prints (npm run capacity -- --figures)')
  t.equal(block('plan'), planTable(issueCase, plan(values, issueCase)), 'the plan table is what npm run capacity prints for the issue\'s case')
  for (const [name, f] of Object.entries(figures)) t.ok(['measured', 'derived', 'assumed'].includes(f.kind) && f.source.length > 20, `${name} says what it is and where it comes from`)
})
