// The capacity model of docs/scaling.md: from the figures (scripts/capacity-figures.ts) and a
// workload (connections, posts/s, subscribers per message), what a deployment needs per role, in
// Kafka, Redis and the store, and where the first wall stands. Arithmetic only: no I/O.
import type { Figures } from './capacity-figures.ts'

export interface Workload {
  connections: number
  /** Messages posted per second. */
  rate: number
  /** Subscribers each message is delivered to. */
  subscribers: number
}

export interface Plan {
  deliveries: number
  /** CPU µs per message of each role, as planned (roles in processes of their own). */
  apiUs: number
  workersUs: number
  api: number
  workers: number
  fanout: number
  /** Connections each fanout instance holds, and its memory for them (MB). */
  connectionsPerFanout: number
  fanoutMemoryMB: number
  /** Messages/s one partition carries at most: its shared consumer runs on one instance. */
  partitionRate: number
  partitions: number
  brokers: number
  /** Per broker: MB/s in (appends, replicas included) and out (consumers, followers). */
  brokerInMBps: number
  brokerOutMBps: number
  /** Cores of broker CPU the cluster needs at the budget. */
  brokerCpu: number
  redisShards: number
  /** Posts/s one shard carries at the budget. */
  shardRate: number
  redisCommands: number
  storeWrites: number
  /** insertMany requests per second at most: one per partition per fetch of the shared group. */
  storeRequests: number
  storeNodes: number
  /** Posts/s past which a fanout that reads every partition cannot keep up, whatever the instances. */
  unroutedWall: number
}

/** Workload A, where wholeMessageUs was measured: 10 subscribers per message. */
const MEASURED_SUBSCRIBERS = 10

export function plan (f: Figures, { connections, rate, subscribers }: Workload): Plan {
  const budget = f.cpuBudget * f.coresPerInstance * 1e6 // µs of CPU per second one instance may use
  const deliveries = rate * subscribers

  // The write path: the whole process's cost per message less its deliveries and its broadcast read,
  // split between api and workers by the measured ratio, each dearer in a process of its own.
  const writePathUs = f.wholeMessageUs - MEASURED_SUBSCRIBERS * f.deliveryUs - f.broadcastReadUs
  const apiUs = writePathUs * f.apiShare * f.rolesSplitFactor
  const workersUs = writePathUs * (1 - f.apiShare) * f.rolesSplitFactor
  const api = Math.ceil(rate * apiUs / budget)

  // A partition's records are handled by one workers instance, and its recovery log sits in one
  // Redis slot: each bounds a partition's rate.
  const partitionRate = Math.floor(Math.min(budget / workersUs, f.cpuBudget * 1e6 / (f.redisUsPerMessage * f.recoveryShareOfRedis)))
  // A selective fanout reads whole partitions: with connections routed by channel, one partition's
  // deliveries and reads must fit one instance (more partitions, finer shares).
  const fanoutWork = deliveries * f.deliveryUs + rate * f.broadcastReadUs
  const needed = Math.max(Math.ceil(rate / partitionRate), Math.ceil(fanoutWork / budget), 1)
  const partitions = Math.ceil(needed / f.replicationFactor) * f.replicationFactor // even leadership
  const perPartition = fanoutWork / partitions
  const fanout = Math.ceil(partitions / Math.max(1, Math.floor(budget / perPartition)))
  const workers = Math.min(partitions, Math.ceil(rate * workersUs / budget))
  const connectionsPerFanout = Math.ceil(connections / fanout)

  // Kafka: every record is written RF times, read by each shared group, one fanout reader (routed)
  // and RF − 1 followers.
  const mb = rate * f.recordBytes / 1e6
  const inMBps = mb * f.replicationFactor
  const outMBps = mb * (f.consumerGroups + 1 + f.replicationFactor - 1)
  const brokerCpu = rate * f.brokerUsPerMessage * f.replicationFactor / (f.cpuBudget * 1e6)
  const brokers = Math.max(
    f.replicationFactor,
    Math.ceil(partitions * f.replicationFactor / f.partitionsPerBroker),
    Math.ceil(Math.max(inMBps, outMBps) / f.brokerNetworkMBps),
    Math.ceil(brokerCpu / f.brokerCores))

  return {
    deliveries,
    apiUs,
    workersUs,
    api,
    workers,
    fanout,
    connectionsPerFanout,
    fanoutMemoryMB: connectionsPerFanout * f.memoryPerConnectionKB / 1000,
    partitionRate,
    partitions,
    brokers,
    brokerInMBps: inMBps / brokers,
    brokerOutMBps: outMBps / brokers,
    brokerCpu,
    redisShards: Math.ceil(rate * f.redisUsPerMessage / (f.cpuBudget * 1e6)),
    shardRate: Math.floor(f.cpuBudget * 1e6 / f.redisUsPerMessage),
    redisCommands: rate * f.redisCommandsPerMessage,
    storeWrites: rate,
    storeRequests: partitions * Math.round(1000 / f.consumeLingerMs),
    storeNodes: Math.ceil(rate * f.storeUsPerMessage / (f.cpuBudget * 1e6) / f.storeNodeCores),
    unroutedWall: Math.floor(budget / f.broadcastReadUs)
  }
}

const n = (x: number) => Math.round(x).toLocaleString('en-US')
const d1 = (x: number) => x.toFixed(1)

/** The plan as the markdown table docs/scaling.md quotes. */
export function planTable (w: Workload, p: Plan): string {
  const rows: Array<[string, string, string]> = [
    ['deliveries/s', n(p.deliveries), `${n(w.rate)} posts/s × ${n(w.subscribers)} subscribers`],
    ['`api` instances', n(p.api), `${n(p.apiUs)} µs per post`],
    ['`workers` instances', n(p.workers), `${n(p.workersUs)} µs per message; at most one per partition`],
    ['`fanout` instances (`FANOUT_SELECTIVE=true`, connections routed by channel)', n(p.fanout), `${n(p.connectionsPerFanout)} connections each, ${n(p.fanoutMemoryMB)} MB for them`],
    ['`messages` partitions', n(p.partitions), `a partition carries at most ${n(p.partitionRate)} posts/s`],
    ['Kafka brokers', n(p.brokers), `${d1(p.brokerInMBps)} MB/s in, ${d1(p.brokerOutMBps)} MB/s out each; ${d1(p.brokerCpu)} cores of broker CPU in all`],
    ['Redis shards (primaries; one replica each)', n(p.redisShards), `a shard carries ${n(p.shardRate)} posts/s; ${n(p.redisCommands)} commands/s in all`],
    ['store writes/s', n(p.storeWrites), `documents, in at most ${n(p.storeRequests)} \`insertMany\`/s`],
    ['store nodes (primaries)', n(p.storeNodes), 'extrapolated from FerretDB'],
    ['first wall: posts/s a fanout reading every partition can follow', n(p.unroutedWall), 'whatever the number of instances']
  ]
  return ['| what | count | per unit |', '| --- | ---: | --- |', ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n')
}
