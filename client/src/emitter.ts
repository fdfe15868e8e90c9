// A small typed event emitter (no dependency): `on` returns the function that removes the handler.
export type Handler<A> = (arg: A) => void

export class Emitter<Events extends object> {
  #handlers = new Map<keyof Events, Set<Handler<any>>>()

  on<K extends keyof Events> (event: K, handler: Handler<Events[K]>): () => void {
    let set = this.#handlers.get(event)
    if (!set) this.#handlers.set(event, set = new Set())
    set.add(handler)
    return () => { set.delete(handler) }
  }

  once<K extends keyof Events> (event: K, handler: Handler<Events[K]>): () => void {
    const off = this.on(event, (arg) => { off(); handler(arg) })
    return off
  }

  /** Resolves with the next emission of `event` that matches. */
  next<K extends keyof Events> (event: K, match: (arg: Events[K]) => boolean = () => true): Promise<Events[K]> {
    return new Promise((resolve) => {
      const off = this.on(event, (arg) => { if (match(arg)) { off(); resolve(arg) } })
    })
  }

  protected emit<K extends keyof Events> (event: K, arg: Events[K]): void {
    const set = this.#handlers.get(event)
    if (!set) return
    for (const handler of [...set]) {
      // A throwing handler must not break the stream for the others, nor the client's own state.
      try { handler(arg) } catch (err) { queueMicrotask(() => { throw err }) }
    }
  }
}
