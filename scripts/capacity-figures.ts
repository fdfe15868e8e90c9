// The figures the capacity model stands on (docs/scaling.md, "Capacity model"), in one place: the
// doc's table quotes them and test/capacity.test.ts checks that it still does. Each says whether it
// was measured (where, how), derived from measured ones, or assumed.

export type Kind = 'measured' | 'derived' | 'assumed'

export interface Figure {
  value: number
  unit: string
  kind: Kind
  /** What it is and where it comes from, as the doc's table says it. */
  source: string
}

export const figures = {
  wholeMessageUs: {
    value: 627,
    unit: 'µs',
    kind: 'measured',
    source: 'server CPU per posted message, one process with every role, real services, 10 subscribers per message (workload A warm, 1,000/s over 20 s after `--warmup 5`): 600 and 627, the higher kept (BENCHMARKS.md, 2026-12-07, `3e20235`, load 1.7–2.8)'
  },
  deliveryUs: {
    value: 13.8,
    unit: 'µs',
    kind: 'measured',
    source: 'CPU per delivery, embedded, 500/s × 50 subscribers: the whole process\'s CPU over its deliveries, so an upper bound of what one more delivery costs (BENCHMARKS.md, 2026-11-29, `767b57b`, load 2.2–3.6)'
  },
  broadcastReadUs: {
    value: 51.2,
    unit: 'µs',
    kind: 'measured',
    source: 'kafkajs CPU per record consumed while another process produces at 2,500/s (small fetches, as a broadcast consumer sees them), the client alone, one broker; switchboard\'s own parse and dispatch are not in it (history.md, "The Kafka client")'
  },
  apiShare: {
    value: 0.67,
    unit: '',
    kind: 'measured',
    source: '`api,fanout` process over `api,fanout` + `workers` CPU per message, 2,738 and 1,335 µs at 100 posts/s (`scripts/capacity-ops.ts`, 1,000 posts over 100 channels, one socket each, idle subtracted; 2026-12-07, load 11.6–13.5). Low rate and a loaded machine make both large; only their ratio is used, and `api,fanout` holds one delivery and a broadcast read'
  },
  rolesSplitFactor: {
    value: 1.25,
    unit: '×',
    kind: 'assumed',
    source: 'CPU of roles in separate processes over one process: measured +9–14 % (history.md, Session 3) and 0.79 against 0.44 ms per message (Session 7), both on older code; +25 % assumed'
  },
  redisUsPerMessage: {
    value: 136.6,
    unit: 'µs',
    kind: 'measured',
    source: 'Redis main-thread CPU per posted message (INFO cpu, idle rate subtracted) on a private redis-server 7: 600 posts over 60 channels at 100/s, each batch one message per channel (`scripts/capacity-ops.ts` in its first version, one instance with every role; 2026-12-07, load 3.3–4.1); 131.8 with 100 channels (load 13.5), 97.1 with 20 channels at 400/s (several messages per channel per batch)'
  },
  redisCommandsPerMessage: {
    value: 30.4,
    unit: 'commands',
    kind: 'measured',
    source: 'Redis commands per posted message (INFO commandstats, the scripts\' inner commands included): 2 `SET` (read-your-writes; the channel\'s latest recovery epoch, once per channel per batch), 2 `EVALSHA` (`cacheApply` once per channel per batch, `recoveryAppend` once per message), 10 `EXPIRE` inside them; in 2 pipelines per batch. Same runs; `RATE_LIMIT_MAX=0` (the limiter adds one script per post)'
  },
  recoveryShareOfRedis: {
    value: 0.33,
    unit: '',
    kind: 'derived',
    source: 'share of a message\'s Redis work that is the recovery append (about 10 of its 30 commands; CPU assumed proportional): it all lands in the slot of the message\'s partition, so on one shard'
  },
  recordBytes: {
    value: 315,
    unit: 'bytes',
    kind: 'measured',
    source: 'a `message.created` record, value and key, for 64 bytes of content (`scripts/capacity-ops.ts`); batch headers not counted'
  },
  brokerUsPerMessage: {
    value: 43,
    unit: 'µs',
    kind: 'measured',
    source: 'Kafka CPU per message: one KRaft broker, replication factor 1, 13 % of a core at 3,000/s with switchboard\'s consumers reading (history.md, Session 5; 10–12 % in Session 8); older code'
  },
  storeUsPerMessage: {
    value: 67,
    unit: 'µs',
    kind: 'measured',
    source: 'store CPU per message: FerretDB 1.24 with PostgreSQL, 20 % of a core at 3,000/s (history.md, Sessions 5 and 8: 18–20 %); FerretDB, not MongoDB'
  },
  memoryPerConnectionKB: {
    value: 10.8,
    unit: 'KB',
    kind: 'measured',
    source: 'memory per connection: embedded, 4,000 uWebSockets.js sockets with one subscription each (the issue-25 session\'s measurement, not repeated here)'
  },
  cpuBudget: {
    value: 0.6,
    unit: 'core',
    kind: 'assumed',
    source: 'the share of a core a process is planned to use (headroom for bursts, a lost instance\'s share, garbage collection)'
  },
  coresPerInstance: {
    value: 1,
    unit: 'core',
    kind: 'assumed',
    source: 'a switchboard instance is one Node process: one event loop, so one core of work (V8\'s helper threads aside); a Redis shard likewise one main thread'
  },
  replicationFactor: {
    value: 3,
    unit: '',
    kind: 'assumed',
    source: 'Kafka replicas per partition (issue 25: RF 3, `min.insync.replicas=2`)'
  },
  consumerGroups: {
    value: 2,
    unit: 'groups',
    kind: 'measured',
    source: 'shared consumer groups that read every `messages` record: `shared` (store, mentions) and `cache` (cache, recovery log), from consumers/*.ts'
  },
  partitionsPerBroker: {
    value: 4000,
    unit: 'partitions',
    kind: 'assumed',
    source: 'partition replicas one broker carries (common Kafka operations guidance; not measured here)'
  },
  brokerNetworkMBps: {
    value: 75,
    unit: 'MB/s',
    kind: 'assumed',
    source: 'bytes a broker moves each way: 60 % of a 1 Gbit/s link'
  },
  brokerCores: {
    value: 8,
    unit: 'cores',
    kind: 'assumed',
    source: 'cores per Kafka broker'
  },
  storeNodeCores: {
    value: 8,
    unit: 'cores',
    kind: 'assumed',
    source: 'cores per store node (primary)'
  },
  consumeLingerMs: {
    value: 50,
    unit: 'ms',
    kind: 'measured',
    source: '`KAFKA_CONSUME_LINGER_MS` default: a shared consumer fetches at most about 1000 / 50 times a second per partition under load, so a store write is one `insertMany` per batch'
  }
} satisfies Record<string, Figure>

export type Figures = { [K in keyof typeof figures]: number }

/** The values alone. */
export const values = Object.fromEntries(Object.entries(figures).map(([name, f]) => [name, f.value])) as Figures

/** The figures as the markdown table docs/scaling.md quotes. */
export function figuresTable (): string {
  const rows = Object.entries(figures).map(([name, f]: [string, Figure]) =>
    `| \`${name}\` | ${f.value.toLocaleString('en-US')}${f.unit ? ` ${f.unit}` : ''} | ${f.kind} | ${f.source} |`)
  return ['| figure | value | kind | what, and how it was obtained |', '| --- | ---: | --- | --- |', ...rows].join('\n')
}
