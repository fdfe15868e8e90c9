// redisPipeline on a cluster, without one: a batch is split by the node owning each command's slot
// (ioredis sends a cluster pipeline to one node only), one pipeline per node, replies in the order
// the batch was built, and a node's failure is the call's. The client is a real, never-connected
// Cluster whose slot map and pipelines are the test's.
import t from 'tap'
import calculateSlot from 'cluster-key-slot'
import { createRedisCluster, redisPipeline, where } from '../../plugins/external/redis.ts'
import { TransientError } from '../../plugins/external/errors.ts'

function fakeCluster (owners: Record<string, string>, failing?: string) {
  const cluster = createRedisCluster('10.0.0.1:7001, 10.0.0.2:7002', { keyPrefix: 'sb:' })
  t.teardown(() => cluster.disconnect())
  for (const [key, node] of Object.entries(owners)) cluster.slots[calculateSlot(`sb:${key}`)] = [node, `${node}-replica`]
  Object.defineProperty(cluster, 'status', { value: 'ready' })
  const sent: Array<{ node: string, commands: string[] }> = []
  cluster.pipeline = (() => {
    const commands: Array<[string, unknown[]]> = []
    const pipeline = new Proxy({}, {
      get: (_, name) => name === 'exec'
        ? async () => {
          const node = owners[String(commands[0][1][0])]
          sent.push({ node, commands: commands.map(([n, args]) => `${n} ${args.join(' ')}`) })
          return commands.map(([n, args]) => node === failing ? [new Error(`${node} is down`), null] : [null, `${n}(${args[0]}) on ${node}`])
        }
        : (...args: unknown[]) => { commands.push([String(name), args]); return pipeline }
    })
    return pipeline
  }) as unknown as typeof cluster.pipeline
  return { cluster, sent }
}

const owners = { '{a}:x': 'n1', '{b}:y': 'n2', '{c}:z': 'n1', '{a}:w': 'n1' }

t.test('one pipeline per node owning the slots, replies in the order built', async (t) => {
  const { cluster, sent } = fakeCluster(owners)
  const replies = await redisPipeline(cluster, 'test batch', (p) => { p.get('{a}:x').hmget('{b}:y', 'f1', 'f2').get('{c}:z'); p.set('{a}:w', 'v') })
  t.same(replies, ['get({a}:x) on n1', 'hmget({b}:y) on n2', 'get({c}:z) on n1', 'set({a}:w) on n1'])
  t.same(sent.sort((a, b) => a.node.localeCompare(b.node)), [
    { node: 'n1', commands: ['get {a}:x', 'get {c}:z', 'set {a}:w v'] },
    { node: 'n2', commands: ['hmget {b}:y f1 f2'] }
  ], 'n1 gets its three commands in their order, n2 its one')
})

t.test('a node that fails fails the call, naming the cluster', async (t) => {
  const { cluster } = fakeCluster(owners, 'n2')
  const err = await redisPipeline(cluster, 'test batch', (p) => { p.get('{a}:x').get('{b}:y') }).catch((e: unknown) => e)
  t.type(err, TransientError)
  t.match((err as Error).message, /^Redis Cluster at 10\.0\.0\.1:7001,10\.0\.0\.2:7002 unavailable: test batch failed \(n2 is down\)$/)
  t.equal(where(cluster), 'Redis Cluster at 10.0.0.1:7001,10.0.0.2:7002', 'named by its configured nodes until it knows its primaries')
})
