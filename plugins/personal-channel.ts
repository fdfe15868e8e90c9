// Every identified connection is subscribed to its user's own channel `user:<id>` as it connects,
// so notifications (mentions, …) reach every tab and device without the client asking. The
// subscribe goes through the hub like a client's (authorizeSubscribe, recovery), so the client
// sees a `subscribed` frame for it right after `ready`.
import fp from 'fastify-plugin'
import { personalChannel } from '../schemas/channel-kinds.ts'

export default fp(async function personalChannels (app) {
  const { hub } = app.fanout
  hub.addHook('onConnect', async (conn) => {
    if (conn.user !== undefined) await hub.subscribe(conn, personalChannel(conn.user))
  }, 'personal-channel')
}, { name: 'personal-channel', dependencies: ['fanout', 'channels'] })
