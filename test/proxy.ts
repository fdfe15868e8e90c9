// A TCP proxy a test can cut and restore: between the app and a real service, it makes an outage
// the app cannot tell from the real thing (open connections reset, new ones refused), while the
// service itself keeps running for the other test files that use it in parallel.
import net from 'node:net'
import { once } from 'node:events'
import { Kafka, logLevel, type ISocketFactory } from 'kafkajs'

export class TcpProxy {
  private server: net.Server | undefined
  private readonly sockets = new Set<net.Socket>()
  port = 0

  private constructor (readonly target: { host: string, port: number }) {}

  static async start (target: { host: string, port: number }): Promise<TcpProxy> {
    const proxy = new TcpProxy(target)
    await proxy.listen()
    return proxy
  }

  get up (): boolean { return this.server !== undefined }

  /** While stalled, new connections are accepted and then left unanswered. */
  private stalled = false
  private readonly held = new Set<net.Socket>()

  private async listen () {
    const server = net.createServer((client) => {
      if (this.stalled) {
        this.held.add(client)
        client.on('close', () => this.held.delete(client))
        client.on('error', () => client.destroy())
        return
      }
      const upstream = net.connect(this.target)
      for (const s of [client, upstream]) {
        this.sockets.add(s)
        s.on('close', () => this.sockets.delete(s))
        s.on('error', () => { client.destroy(); upstream.destroy() })
      }
      client.pipe(upstream).pipe(client)
    })
    server.unref() // never what keeps a test process alive
    server.listen(this.port, '127.0.0.1') // the same port again after a cut
    await once(server, 'listening')
    this.port = (server.address() as net.AddressInfo).port
    this.server = server
  }

  /** The service "goes down": open connections are reset, new ones refused. */
  async cut () {
    const server = this.server
    if (!server) return
    this.server = undefined
    const closed = once(server, 'close')
    server.close()
    for (const s of this.sockets) s.resetAndDestroy()
    await closed
  }

  /**
   * The service "hangs" (a broker still starting, a half-open network): open connections are
   * reset, new ones are accepted and never answered.
   */
  async stall () {
    this.stalled = true
    for (const s of this.sockets) s.resetAndDestroy()
    if (!this.server) await this.listen()
  }

  /** The service "comes back" on the same address (connections held while stalled are reset). */
  async restore () {
    this.stalled = false
    for (const s of this.held) s.resetAndDestroy()
    if (!this.server) await this.listen()
  }

  async close () { await this.cut() }
}

/**
 * Proxies for every broker of a Kafka cluster, and the kafkajs socket factory that connects
 * through them. Clients reach brokers at the addresses the cluster advertises in its metadata,
 * so a plain proxy in front of the bootstrap address would be bypassed; the socket factory sends
 * each broker connection to that broker's proxy instead.
 */
export class KafkaProxy {
  private constructor (private readonly proxies: Map<string, TcpProxy>, private readonly fallback: TcpProxy) {}

  static async start (brokers: string[]): Promise<KafkaProxy> {
    const kafka = new Kafka({ clientId: 'switchboard-test-proxy', brokers, logLevel: logLevel.NOTHING })
    const admin = kafka.admin()
    await admin.connect()
    const cluster = await admin.describeCluster().finally(() => admin.disconnect())
    const proxies = new Map<string, TcpProxy>()
    for (const b of cluster.brokers) proxies.set(`${b.host}:${b.port}`, await TcpProxy.start({ host: b.host, port: b.port }))
    return new KafkaProxy(proxies, [...proxies.values()][0])
  }

  /** For kafkajs's `socketFactory`: bootstrap addresses that are no broker's go to the first one. */
  readonly socketFactory: ISocketFactory = ({ host, port, onConnect }) => {
    const proxy = this.proxies.get(`${host}:${port}`) ?? this.fallback
    const socket = net.connect({ host: '127.0.0.1', port: proxy.port }, onConnect)
    socket.setKeepAlive(true, 60_000)
    return socket
  }

  async cut () { await Promise.all([...this.proxies.values()].map((p) => p.cut())) }
  async stall () { await Promise.all([...this.proxies.values()].map((p) => p.stall())) }
  async restore () { await Promise.all([...this.proxies.values()].map((p) => p.restore())) }
  async close () { await this.cut() }
}
