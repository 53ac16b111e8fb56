import { Gauge, Registry } from 'prom-client'
import t from 'tap'
import { RolloutSeries, type EvictionReason } from '../../src/metrics/rollout-series.js'
import { find, parseExposition } from '../helpers/exposition.js'

function setup (opts: { ttlMs?: number, maxPairs?: number } = {}) {
  const registry = new Registry()
  const gauge = new Gauge({ name: 'test_rollout_value', help: 'test', labelNames: ['rollout', 'signal'], registers: [registry] })
  let now = 1_000_000
  const evictions: EvictionReason[] = []
  const series = new RolloutSeries({ ttlMs: opts.ttlMs ?? 60_000, maxPairs: opts.maxPairs ?? 10, now: () => now, onEvict: (r) => evictions.push(r) })
  const rollouts = async (): Promise<string[]> => [...new Set(find(parseExposition(await registry.metrics()), 'test_rollout_value').map((s) => `${s.labels.rollout}/${s.labels.signal}=${s.value}`))].sort()
  return { gauge, series, evictions, rollouts, advance: (ms: number) => { now += ms } }
}

t.test('an update replaces every series of its pair, so a signal no longer measured leaves no stale value', async (t) => {
  const { gauge, series, rollouts } = setup()
  series.update('a', [{ gauge, labels: { rollout: 'a', signal: 'deny' }, value: 0.1 }, { gauge, labels: { rollout: 'a', signal: 'fail' }, value: 0.2 }])
  series.update('b', [{ gauge, labels: { rollout: 'b', signal: 'deny' }, value: 0.3 }])
  t.same(await rollouts(), ['a/deny=0.1', 'a/fail=0.2', 'b/deny=0.3'])
  series.update('a', [{ gauge, labels: { rollout: 'a', signal: 'deny' }, value: 0.5 }])
  t.same(await rollouts(), ['a/deny=0.5', 'b/deny=0.3'], 'a/fail is gone, b untouched')
  t.equal(series.size, 2)
})

t.test('pairs not updated within the TTL are removed on expire(), the others stay', async (t) => {
  const { gauge, series, evictions, rollouts, advance } = setup({ ttlMs: 60_000 })
  series.update('old', [{ gauge, labels: { rollout: 'old', signal: 'deny' }, value: 1 }])
  advance(30_000)
  series.update('new', [{ gauge, labels: { rollout: 'new', signal: 'deny' }, value: 2 }])
  advance(29_999)
  series.expire()
  t.same(await rollouts(), ['new/deny=2', 'old/deny=1'], 'just inside the TTL: kept')
  advance(1)
  series.expire()
  t.same(await rollouts(), ['new/deny=2'], 'one TTL after its last update the finished rollout is gone')
  t.same(evictions, ['expired'])
  advance(30_000)
  series.update('old', [{ gauge, labels: { rollout: 'old', signal: 'deny' }, value: 3 }])
  series.expire()
  t.same(await rollouts(), ['old/deny=3'], 'a rollout asked about again comes back; the idle one expires')
  t.same(evictions, ['expired', 'expired'])
})

t.test('over the cap, the pair updated longest ago goes first', async (t) => {
  const { gauge, series, evictions, rollouts, advance } = setup({ maxPairs: 3 })
  for (const r of ['a', 'b', 'c']) {
    series.update(r, [{ gauge, labels: { rollout: r, signal: 's' }, value: 1 }])
    advance(1_000)
  }
  series.update('a', [{ gauge, labels: { rollout: 'a', signal: 's' }, value: 2 }])
  series.update('d', [{ gauge, labels: { rollout: 'd', signal: 's' }, value: 1 }])
  t.same(await rollouts(), ['a/s=2', 'c/s=1', 'd/s=1'], 'b (updated longest ago) was evicted, not a (updated again)')
  t.same(evictions, ['capacity'])
  t.equal(series.size, 3)
  for (let i = 0; i < 100; i++) series.update(`x${i}`, [{ gauge, labels: { rollout: `x${i}`, signal: 's' }, value: i }])
  t.equal(series.size, 3, 'however many rollouts come, at most the cap keep series')
  t.same(await rollouts(), ['x97/s=97', 'x98/s=98', 'x99/s=99'])
})

t.test('options are checked', async (t) => {
  t.throws(() => new RolloutSeries({ ttlMs: 0, maxPairs: 1 }), /ttlMs must be positive/)
  t.throws(() => new RolloutSeries({ ttlMs: 1, maxPairs: 0 }), /maxPairs must be a whole number/)
})
