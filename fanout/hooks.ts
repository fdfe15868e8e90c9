// The hub's hooks, in two kinds that compose differently (centrifuge's rule: a handler that decides
// is set once, by one owner). Notification hooks say that something happened: any number of
// plugins add them and all run, in the order they were added. Decision hooks answer (who connects,
// may they subscribe, where they stand): one per name, and a second owner is an error at boot that
// names both, never a silent replacement.
import type { Connection, FanoutHooks, FanoutLogger } from './types.ts'

export type NotificationName = 'onConnect' | 'onDisconnect' | 'onSubscribed' | 'onUnsubscribed' | 'onReplayRefused'
export type DecisionName = 'authenticate' | 'authorizeSubscribe' | 'onSubscribe'
export type NotificationHooks = Pick<FanoutHooks, NotificationName>
export type DecisionHooks = Pick<FanoutHooks, DecisionName>

export const notificationNames: readonly NotificationName[] = ['onConnect', 'onDisconnect', 'onSubscribed', 'onUnsubscribed', 'onReplayRefused']
export const decisionNames: readonly DecisionName[] = ['authenticate', 'authorizeSubscribe', 'onSubscribe']

type Notify = (conn: Connection, channel: string, count: number) => Promise<void>

export class HubHooks {
  readonly #notifications: Record<NotificationName, Array<{ fn: Notify, owner: string }>> = { onConnect: [], onDisconnect: [], onSubscribed: [], onUnsubscribed: [], onReplayRefused: [] }
  readonly #decisions: { [K in DecisionName]?: { fn: DecisionHooks[K], owner: string } } = {}
  readonly #log: FanoutLogger

  constructor (log: FanoutLogger) { this.#log = log }

  /** Adds hooks of both kinds at once (the hub's `hooks` option, `hub.addHooks`); `owner` names them in errors. */
  addAll (hooks: Partial<FanoutHooks>, owner: string): void {
    for (const name of notificationNames) if (hooks[name]) this.add(name, hooks[name], owner)
    for (const name of decisionNames) if (hooks[name]) this.decide(name, hooks[name] as DecisionHooks[typeof name], owner)
  }

  add<K extends NotificationName> (name: K, fn: NotificationHooks[K], owner: string): void {
    if (!notificationNames.includes(name)) throw new TypeError(`${String(name)} is not a notification hook (${notificationNames.join(', ')}); decisions are set with setDecision`)
    this.#notifications[name].push({ fn: fn as Notify, owner })
  }

  /** Sets the one `name` decision. `replaces` must name its current owner to replace it on purpose (tests). */
  decide<K extends DecisionName> (name: K, fn: DecisionHooks[K], owner: string, replaces?: string): void {
    if (!decisionNames.includes(name)) throw new TypeError(`${String(name)} is not a decision hook (${decisionNames.join(', ')}); notifications are added with addHook`)
    const current = this.#decisions[name]
    if (current && current.owner !== replaces) {
      throw new Error(`fanout: the ${name} hook is set by ${current.owner}; ${owner} cannot set another (a decision hook has one owner)`)
    }
    if (!current && replaces !== undefined) throw new Error(`fanout: ${owner} replaces the ${name} hook of ${replaces}, but none is set`)
    Object.assign(this.#decisions, { [name]: { fn, owner } })
  }

  decision<K extends DecisionName> (name: K): DecisionHooks[K] | undefined { return this.#decisions[name]?.fn }

  /** Starts every `name` hook in the order they were added; one that fails is logged and hides nothing from the others. */
  notify (name: NotificationName, conn: Connection, channel?: string, count?: number): void {
    for (const { fn, owner } of this.#notifications[name]) {
      void (async () => {
        try { await fn(conn, channel as string, count as number) } catch (err) {
          this.#log.error({ err, connectionId: conn.id, channel, owner }, `${name} hook of ${owner} failed`)
        }
      })()
    }
  }
}
