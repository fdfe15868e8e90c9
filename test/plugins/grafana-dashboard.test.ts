// docs/grafana-dashboard.json charts series the app exports: every metric its queries name is in /metrics.
import { readFileSync } from 'node:fs'
import t from 'tap'
import { build } from '../helper.ts'

interface Panel { id: number, type: string, title: string, targets?: Array<{ expr: string }> }

const dashboard = JSON.parse(readFileSync(new URL('../../docs/grafana-dashboard.json', import.meta.url), 'utf8')) as { uid: string, panels: Panel[], templating: { list: Array<{ definition?: string }> } }

t.test('every panel has a query, ids are unique', async (t) => {
  const charts = dashboard.panels.filter((p) => p.type !== 'row')
  t.ok(charts.length > 0)
  for (const p of charts) t.ok(p.targets?.length && p.targets.every((q) => q.expr), `${p.title}: a query`)
  t.equal(new Set(dashboard.panels.map((p) => p.id)).size, dashboard.panels.length, 'unique panel ids')
})

t.test('every series the dashboard queries is exported at /metrics', async (t) => {
  const app = await build(t)
  const exposition = (await app.inject('/metrics')).body
  const exported = new Set([...exposition.matchAll(/^# TYPE (\w+) /gm)].map((m) => m[1]))
  const queries = [
    ...dashboard.panels.flatMap((p) => p.targets ?? []).map((q) => q.expr),
    ...dashboard.templating.list.map((v) => v.definition ?? '')
  ]
  const named = new Set(queries.flatMap((q) => [...q.matchAll(/\b((?:switchboard|nodejs)_\w+)/g)].map((m) => m[1].replace(/_(bucket|count|sum)$/, ''))))
  t.ok(named.size >= 10, `the dashboard names ${named.size} metrics`)
  for (const name of named) t.ok(exported.has(name), `${name} is exported`)
  for (const name of ['switchboard_fanout_connections', 'switchboard_fanout_subscriptions', 'switchboard_fanout_deliveries_total', 'switchboard_events_produced_total', 'switchboard_delivery_latency_seconds', 'switchboard_consumer_lag', 'switchboard_dead_letters_total', 'switchboard_fanout_slow_clients_dropped_total']) {
    t.ok(named.has(name), `a panel charts ${name}`)
  }
})
