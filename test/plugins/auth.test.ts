// JWT auth on HTTP: every refused token is a 401 naming why, and the token alone says who posts.
import t from 'tap'
import { build } from '../helper.ts'
import { loadConfig } from '../../config.ts'
import { bearer, keys, secret, token } from '../tokens.ts'

const post = { channelId: 'general', content: 'hello' }

t.test('auth off: clients name themselves and the start-up log says auth is off', async (t) => {
  const app = await build(t)
  t.equal(app.auth.enabled, false)
  const res = await app.inject({ method: 'POST', url: '/api/messages', payload: { ...post, senderId: 'ada' } })
  t.equal(res.statusCode, 201)
  t.equal(res.json().senderId, 'ada')
})

t.test('HS256: a valid token posts as its sub and name; body fields cannot override it', async (t) => {
  const app = await build(t, { JWT_SECRET: secret })
  t.equal(app.auth.enabled, true)
  const res = await app.inject({ method: 'POST', url: '/api/messages', headers: bearer(token({ sub: 'alice', name: 'Alice' })), payload: { ...post, senderId: 'mallory', senderName: 'Mallory' } })
  t.equal(res.statusCode, 201)
  t.match(res.json(), { senderId: 'alice', senderName: 'Alice' })
  const spoof = await app.inject({ method: 'POST', url: '/api/messages', headers: { ...bearer(token({ sub: 'bob' })), 'x-user-id': 'mallory' }, payload: post })
  t.equal(spoof.json().senderId, 'bob', 'x-user-id is ignored with auth on')
})

t.test('missing, forged, expired, malformed, wrong-algorithm tokens are 401s naming why; nothing is posted', async (t) => {
  const app = await build(t, { JWT_SECRET: secret })
  let produced = 0
  const produce = app.bus.produce.bind(app.bus)
  app.bus.produce = async (...args) => { produced++; return produce(...args) }
  const cases: Array<[string, Record<string, string>, RegExp]> = [
    ['no header', {}, /missing token/],
    ['forged (other secret)', bearer(token({ key: 'x'.repeat(40) })), /signature/i],
    ['expired', bearer(token({ expiresIn: -60 })), /expired/],
    ['no exp', bearer(token({ expiresIn: null })), /exp claim is required/],
    ['malformed', bearer('not.a.jwt'), /not a valid base64url|malformed/],
    ['garbage', bearer('%%%'), /malformed/],
    ['not bearer', { authorization: 'Basic YWxhZGRpbjpvcGVuc2VzYW1l' }, /Bearer/],
    ['RS256 when HS256 is configured', bearer(token({ algorithm: 'RS256', key: keys.rsa.privateKey })), /algorithm/],
    ['sub not a user id', bearer(token({ sub: 'auth0|123' })), /sub must be/],
    ['sub missing', bearer(token({ sub: '' })), /sub/]
  ]
  for (const [name, headers, message] of cases) {
    for (const req of [{ method: 'POST' as const, url: '/api/messages', payload: post }, { method: 'GET' as const, url: '/api/channels/general/messages' }]) {
      const res = await app.inject({ ...req, headers })
      t.equal(res.statusCode, 401, `${name}: ${req.method} 401`)
      t.match(res.json(), { statusCode: 401, error: 'Unauthorized', message }, `${name}: names why`)
    }
  }
  t.equal(produced, 0, 'nothing reached the log')
  t.equal((await app.inject({ method: 'GET', url: '/health' })).statusCode, 200, 'health needs no token')
})

t.test('RS256 and ES256 public keys, with issuer and audience checks', async (t) => {
  for (const [alg, pair] of [['RS256', keys.rsa], ['ES256', keys.ec]] as const) {
    const app = await build(t, { JWT_PUBLIC_KEY: pair.publicKey.replace(/\n/g, '\\n'), JWT_ISSUER: 'https://issuer.test', JWT_AUDIENCE: 'switchboard' })
    const sign = (o: Parameters<typeof token>[0]) => token({ algorithm: alg, key: pair.privateKey, iss: 'https://issuer.test', aud: 'switchboard', ...o })
    const get = (tok: string) => app.inject({ method: 'GET', url: '/api/channels/general/messages', headers: bearer(tok) })
    t.equal((await get(sign({}))).statusCode, 200, `${alg}: valid`)
    t.match((await get(sign({ iss: 'https://evil.test' }))).json(), { statusCode: 401, message: /iss/ }, `${alg}: wrong issuer`)
    t.match((await get(sign({ aud: 'someone-else' }))).json(), { statusCode: 401, message: /aud/ }, `${alg}: wrong audience`)
    t.match((await get(token({ algorithm: alg, key: pair.privateKey, aud: 'switchboard' }))).json(), { statusCode: 401, message: /iss claim is required/ }, `${alg}: no issuer`)
    t.match((await get(token({ iss: 'https://issuer.test', aud: 'switchboard' }))).json(), { statusCode: 401, message: /algorithm/ }, `${alg}: HS256 token signed with a guessable secret is refused`)
  }
})

t.test('bad key configuration stops start-up naming the variable', async (t) => {
  t.throws(() => loadConfig({ JWT_PUBLIC_KEY: '-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----' }), /JWT_PUBLIC_KEY is not a usable PEM public key/)
  t.throws(() => loadConfig({ JWT_SECRET: 'short' }), /JWT_SECRET must be at least 32 characters \(got 5\)/)
  t.throws(() => loadConfig({ JWT_SECRET: secret, JWT_PUBLIC_KEY: keys.rsa.publicKey }), /JWT_SECRET and JWT_PUBLIC_KEY are both set/)
  t.notMatch(String(t.throws(() => loadConfig({ JWT_SECRET: 'short' }))), /short/, 'the secret is not echoed')
  t.equal(loadConfig({ JWT_PUBLIC_KEY: keys.ec.publicKey }).JWT_PUBLIC_KEY, keys.ec.publicKey)
})
