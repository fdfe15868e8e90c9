// Summarises a V8 .cpuprofile (from `npm run bench -- --profile DIR`): the top functions by self
// time and the time per package, so BENCHMARKS.md can say where a server spends its CPU.
//   npx tsx scripts/bench/profile.ts DIR/file.cpuprofile [--top 25] [--callers writeBuffer]
import { readFile } from 'node:fs/promises'
import { parseArgs } from 'node:util'

interface ProfileNode { id: number, callFrame: { functionName: string, url: string, lineNumber: number }, children?: number[] }
interface CpuProfile { nodes: ProfileNode[], samples: number[], timeDeltas: number[], startTime: number, endTime: number }

export interface ProfileSummary {
  totalMs: number
  /** busy = everything but (idle) */
  busyMs: number
  functions: Array<{ name: string, where: string, selfMs: number, share: number }>
  packages: Array<{ name: string, selfMs: number, share: number }>
}

/** Where a frame's code comes from: an npm package, node internals, switchboard itself, or V8. */
function packageOf (url: string, name: string): string {
  if (url === '') return name.startsWith('(') ? name : '(native)'
  const modules = url.lastIndexOf('node_modules/')
  if (modules >= 0) {
    const rest = url.slice(modules + 'node_modules/'.length).split('/')
    return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]
  }
  if (url.startsWith('node:')) return 'node (internals)'
  return 'switchboard'
}

export function summarize (profile: CpuProfile, top = 25): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const self = new Map<number, number>()
  profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)))
  const functions = new Map<string, { name: string, where: string, selfUs: number }>()
  const packages = new Map<string, number>()
  let totalUs = 0
  let idleUs = 0
  for (const [id, us] of self) {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame
    const name = functionName || '(anonymous)'
    const where = url ? `${url.replace(/^file:\/\/.*?\/(node_modules\/|(?=[^/]+\/[^/]+$))/, '')}:${lineNumber + 1}` : ''
    const key = `${name} ${where}`
    const entry = functions.get(key) ?? { name, where, selfUs: 0 }
    entry.selfUs += us
    functions.set(key, entry)
    const pkg = packageOf(url, name)
    packages.set(pkg, (packages.get(pkg) ?? 0) + us)
    totalUs += us
    if (name === '(idle)') idleUs += us
  }
  const busyUs = totalUs - idleUs
  const share = (us: number) => Math.round((us / Math.max(1, busyUs)) * 1000) / 10
  return {
    totalMs: Math.round(totalUs / 1000),
    busyMs: Math.round(busyUs / 1000),
    functions: [...functions.values()].filter((f) => f.name !== '(idle)').sort((a, b) => b.selfUs - a.selfUs).slice(0, top)
      .map((f) => ({ name: f.name, where: f.where, selfMs: Math.round(f.selfUs / 1000), share: share(f.selfUs) })),
    packages: [...packages].filter(([name]) => name !== '(idle)').sort((a, b) => b[1] - a[1])
      .map(([name, us]) => ({ name, selfMs: Math.round(us / 1000), share: share(us) }))
  }
}

/** Who calls `name`: self time of its samples by the nearest calling frame from a package or switchboard. */
export function callers (profile: CpuProfile, name: string, top = 15): Array<{ caller: string, selfMs: number }> {
  const parent = new Map<number, number>()
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const self = new Map<number, number>()
  profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)))
  const totals = new Map<string, number>()
  for (const [id, us] of self) {
    if (byId.get(id)!.callFrame.functionName !== name) continue
    let at = parent.get(id)
    let caller = '(root)'
    while (at !== undefined) {
      const { functionName, url, lineNumber } = byId.get(at)!.callFrame
      if (url && !url.startsWith('node:')) { caller = `${functionName || '(anonymous)'} ${packageOf(url, functionName)} ${url.split('/').slice(-2).join('/')}:${lineNumber + 1}`; break }
      at = parent.get(at)
    }
    totals.set(caller, (totals.get(caller) ?? 0) + us)
  }
  return [...totals].sort((a, b) => b[1] - a[1]).slice(0, top).map(([caller, us]) => ({ caller, selfMs: Math.round(us / 1000) }))
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string' }, callers: { type: 'string' } } })
  if (positionals.length !== 1) {
    console.error('usage: npx tsx scripts/bench/profile.ts FILE.cpuprofile [--top N]')
    process.exit(2)
  }
  const profile = JSON.parse(await readFile(positionals[0], 'utf8')) as CpuProfile
  if (values.callers) {
    for (const c of callers(profile, values.callers)) console.log(`  ${String(c.selfMs).padStart(6)} ms  ${c.caller}`)
    process.exit(0)
  }
  const summary = summarize(profile, Number(values.top ?? 25))
  console.log(`busy ${summary.busyMs} ms of ${summary.totalMs} ms sampled (shares are of busy time)\n`)
  console.log('by package:')
  for (const p of summary.packages) console.log(`  ${String(p.share).padStart(5)}%  ${String(p.selfMs).padStart(6)} ms  ${p.name}`)
  console.log('\ntop functions by self time:')
  for (const f of summary.functions) console.log(`  ${String(f.share).padStart(5)}%  ${String(f.selfMs).padStart(6)} ms  ${f.name}  ${f.where}`)
}
