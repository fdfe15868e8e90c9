// In-memory channel store with the Mongo store's semantics.
import type { Channel, ChannelStore } from './channels.ts'

export function createEmbeddedChannelStore (): ChannelStore {
  const channels = new Map<string, Channel>()
  const update = (id: string, change: (members: Set<string>) => void): boolean => {
    const channel = channels.get(id)
    if (!channel) return false
    const members = new Set(channel.members)
    change(members)
    channels.set(id, { ...channel, members: [...members] })
    return true
  }
  return {
    kind: 'embedded',
    async create (channel) {
      if (channels.has(channel.id)) return false
      channels.set(channel.id, structuredClone(channel))
      return true
    },
    async get (id) {
      const channel = channels.get(id)
      return channel ? structuredClone(channel) : null
    },
    async addMember (id, userId) { return update(id, (m) => m.add(userId)) },
    async removeMember (id, userId) { return update(id, (m) => m.delete(userId)) },
    async ping () {},
    async close () {}
  }
}
