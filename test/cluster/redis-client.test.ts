// switchboard on a Redis Cluster (REDIS_CLUSTER_NODES): the app's one client is a cluster client
// with the same fail-fast options, readiness and failure mapping as on one Redis, and posting,
// history (the cache), nonces and presence work on it.
import t from 'tap'
import { Cluster } from 'ioredis'
import { createRedisCluster, redisCall, where } from '../../plugins/external/redis.ts'
import { TransientError } from '../../plugins/external/errors.ts'
import { build, handled } from '../helper.ts'
import { unique } from '../services.ts'
import { cleanupCluster, clusterNodes, requireRedisCluster } from './cluster.ts'

if (await requireRedisCluster(t)) {
  const keyPrefix = `${unique('cluster-app')}:`
  t.teardown(() => cleanupCluster(keyPrefix))

  t.test('the app on a Redis Cluster: one cluster client, ready, and the Redis paths work', async (t) => {
    const app = await build(t, { REDIS_CLUSTER_NODES: clusterNodes, REDIS_KEY_PREFIX: keyPrefix })
    t.ok(app.redis instanceof Cluster, 'app.redis is a cluster client')
    t.match(where(app.redis!), /^Redis Cluster at (\S+:\d+,){2}\S+:\d+$/, 'named by its three primaries')
    t.equal((await app.inject('/ready')).statusCode, 200)
    t.ok('redis' in (await app.inject('/ready')).json().checks, 'with a readiness check of its own')

    const post = await app.inject({ method: 'POST', url: '/api/messages', payload: { channelId: 'general', content: 'hi', senderId: 'ada', senderName: 'Ada', nonce: 'n1' } })
    t.equal(post.statusCode, 201)
    await handled(app, 'messages-cache', post.json().position)
    const again = await app.inject({ method: 'POST', url: '/api/messages', payload: { channelId: 'general', content: 'hi', senderId: 'ada', senderName: 'Ada', nonce: 'n1' } })
    t.equal(again.json().id, post.json().id, 'the nonce, in the cluster, answers the retry with the first message')
    const history = await app.inject('/api/channels/general/messages')
    t.equal(history.statusCode, 200)
    t.same(history.json().messages.map((m: { id: string }) => m.id), [post.json().id])
    t.equal((await app.inject('/api/channels/general/presence')).statusCode, 200)
    const keys = (await Promise.all((app.redis as Cluster).nodes('master').map((node) => node.keys(`${keyPrefix}*`)))).flat()
    t.ok(keys.some((k) => k.startsWith(`${keyPrefix}channel:{general}:`)), 'the cache entry is in the cluster, under the prefix')
  })

  t.test('a cluster that cannot be reached fails with a TransientError naming it', async (t) => {
    const down = createRedisCluster('127.0.0.1:1')
    t.teardown(() => down.disconnect())
    const err = await redisCall(down, 'ping', () => down.ping()).catch((err: unknown) => err)
    t.type(err, TransientError)
    t.match((err as Error).message, /^Redis Cluster at 127\.0\.0\.1:1 unavailable: ping failed/)
  })
}
