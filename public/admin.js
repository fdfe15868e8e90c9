// The operator dashboard: polls GET /api/admin/stats (X-API-Key, kept in sessionStorage) every 2 s and
// draws the last 60 samples of each figure as an inline SVG sparkline. The endpoint sends totals since
// the process started; rates and the latency percentiles of each interval are taken here from two
// consecutive polls, as Prometheus' rate() and histogram_quantile() do from two scrapes.

const $ = (id) => document.getElementById(id)
const POLL_MS = 2000
const SAMPLES = 60
const KEY = 'switchboard.adminKey'
const COLORS = ['#3b5bdb', '#e67700', '#c92a2a', '#2b8a3e', '#862e9c', '#0b7285']

/** A figure on the page: a card with the current value and a sparkline of one or more series. */
class Chart {
  /** `key` names the card (data-chart) when its title may repeat another's (a topic named like a figure). */
  constructor (parent, title, unit, series = [title], key = title) {
    const card = $('chart-template').content.firstElementChild.cloneNode(true)
    card.dataset.chart = key
    card.querySelector('.title').textContent = title
    card.querySelector('.unit').textContent = unit
    card.querySelector('svg').setAttribute('aria-label', `${title}, last ${SAMPLES} samples`)
    parent.querySelector('.empty')?.remove()
    parent.append(card)
    this.card = card
    this.series = series.map((name, i) => ({ name, color: COLORS[i % COLORS.length], values: [] }))
    if (series.length > 1) {
      const legend = card.querySelector('.legend')
      for (const s of this.series) {
        const item = document.createElement('span')
        item.style.color = s.color
        item.textContent = `● ${s.name} `
        legend.append(item)
      }
    }
  }

  /** Adds one sample per series (null: no value in this interval, drawn as a gap). */
  push (values, text) {
    this.series.forEach((s, i) => {
      s.values.push(values[i] ?? null)
      if (s.values.length > SAMPLES) s.values.shift()
    })
    this.card.querySelector('.value').textContent = text
    this.draw()
  }

  draw () {
    const svg = this.card.querySelector('svg')
    const max = Math.max(1e-9, ...this.series.flatMap((s) => s.values.filter((v) => v !== null)))
    svg.replaceChildren(...this.series.map((s) => {
      const path = document.createElementNS('http://www.w3.org/2000/svg', 'path')
      let d = ''
      let pen = 'M'
      s.values.forEach((v, i) => {
        if (v === null) { pen = 'M'; return }
        // the newest sample at the right edge; 35 of the 36 units high, so a flat line at 0 shows
        // a segment starts with a dot (h0), so a lone sample shows
        d += `${pen}${((SAMPLES - s.values.length + i) * 120 / (SAMPLES - 1)).toFixed(1)},${(35 - (v / max) * 33).toFixed(1)} ${pen === 'M' ? 'h0 ' : ''}`
        pen = 'L'
      })
      path.setAttribute('d', d.trim())
      path.setAttribute('stroke', s.color)
      return path
    }))
  }
}

const number = (n) => n === null || n === undefined ? '–' : n >= 100 ? Math.round(n).toLocaleString() : String(Math.round(n * 10) / 10)
const ms = (seconds) => seconds === null ? '–' : `${number(seconds * 1000)} ms`
/** A counter's increase per second between two polls; a restart (the total went down) counts from 0. */
const rate = (now, before, read) => {
  const dt = (now.at - before.at) / 1000
  const increase = read(now) >= read(before) ? read(now) - read(before) : read(now)
  return dt > 0 ? increase / dt : null
}

/** histogram_quantile over cumulative buckets ({ le: seconds or null for +Inf, count }). */
function quantile (q, buckets) {
  const total = buckets.at(-1)?.count ?? 0
  if (total === 0) return null
  const rank = q * total
  let lower = 0
  let below = 0
  for (const { le, count } of buckets) {
    if (count >= rank) {
      if (le === null) return lower
      return lower + (le - lower) * (count === below ? 0 : (rank - below) / (count - below))
    }
    lower = le
    below = count
  }
  return lower
}

/** The latency histogram of the interval between two polls (null: no message delivered in it). */
function windowed (now, before) {
  if (!before || now.latency.count < before.latency.count) return now.latency.buckets
  return now.latency.buckets.map((b, i) => ({ le: b.le, count: b.count - (before.latency.buckets[i]?.count ?? 0) }))
}

const charts = {}
const perKey = { lag: new Map(), dead: new Map() }
let previous = null
let timer = null
/** Bumped by login and logout: a poll answered after either is dropped, so one loop runs at a time. */
let generation = 0

function setup () {
  const grid = $('charts')
  charts.connections = new Chart(grid, 'connections', 'open WebSockets')
  charts.subscriptions = new Chart(grid, 'subscriptions', 'connection × channel')
  charts.posts = new Chart(grid, 'posts', 'per second')
  charts.deliveries = new Chart(grid, 'deliveries', 'frames per second')
  charts.latency = new Chart(grid, 'post→delivery latency', 'per interval', ['p50', 'p90', 'p99'])
  charts.slow = new Chart(grid, 'slow clients dropped', 'total (4008)')
}

/** One chart per consumer group or topic, added when it first shows up. */
function keyed (kind, parent, name, unit, value) {
  if (!perKey[kind].has(name)) perKey[kind].set(name, new Chart(parent, name, unit, [name], `${kind}:${name}`))
  perKey[kind].get(name).push([value], number(value))
}

function render (stats) {
  $('instance').textContent = stats.instanceId
  // behind a balancer another instance may answer: its totals are not comparable with the last ones
  if (previous && previous.instanceId !== stats.instanceId) previous = null
  charts.connections.push([stats.connections.total], `${number(stats.connections.total)}`)
  charts.subscriptions.push([stats.subscriptions], number(stats.subscriptions))
  const posts = previous && rate(stats, previous, (s) => s.totals.posts)
  const deliveries = previous && rate(stats, previous, (s) => s.totals.deliveries)
  charts.posts.push([posts], number(posts))
  charts.deliveries.push([deliveries], number(deliveries))
  const buckets = windowed(stats, previous)
  const [p50, p90, p99] = [0.5, 0.9, 0.99].map((q) => quantile(q, buckets))
  charts.latency.push([p50, p90, p99], p99 === null ? '–' : `${ms(p50)} · ${ms(p99)}`)
  charts.slow.push([stats.totals.slowClientsDropped], number(stats.totals.slowClientsDropped))
  const lagUnit = stats.consumerLag.available ? 'records behind' : 'records behind (log did not answer)'
  for (const [group, lag] of Object.entries(stats.consumerLag.groups)) keyed('lag', $('lag'), group, lagUnit, lag)
  for (const [group, chart] of perKey.lag) if (!(group in stats.consumerLag.groups)) chart.push([null], '–')
  for (const [topic, n] of Object.entries(stats.deadLetters)) keyed('dead', $('dead'), topic, 'dead letters, total', n)
  previous = stats
}

function status (text, online) {
  $('status').textContent = text
  $('status').className = `status ${online ? 'online' : 'offline'}`
}

async function poll () {
  const key = sessionStorage.getItem(KEY)
  const mine = generation
  if (!key) return
  try {
    const res = await fetch('/api/admin/stats', { headers: { 'x-api-key': key } })
    const body = await res.json()
    if (mine !== generation) return
    if (res.status === 401) { logout(body.message); return }
    if (!res.ok) throw new Error(body.message || `HTTP ${res.status}`)
    render(body)
    $('error').textContent = ''
    status(`live · ${new Date(body.at).toLocaleTimeString()}`, true)
  } catch (err) {
    if (mine !== generation) return
    $('error').textContent = `stats unavailable: ${err.message}`
    status('stale', false)
  }
  timer = setTimeout(poll, POLL_MS)
}

function login (key) {
  sessionStorage.setItem(KEY, key)
  $('login').hidden = true
  $('logout').hidden = false
  status('connecting…', false)
  generation++
  clearTimeout(timer)
  void poll()
}

function logout (message = '') {
  sessionStorage.removeItem(KEY)
  generation++
  clearTimeout(timer)
  $('login').hidden = false
  $('logout').hidden = true
  $('error').textContent = message
  status('no key', false)
}

setup()
$('login').addEventListener('submit', (e) => {
  e.preventDefault()
  login($('key').value.trim())
  $('key').value = ''
})
$('logout').addEventListener('click', () => logout())
if (sessionStorage.getItem(KEY)) login(sessionStorage.getItem(KEY))
