// Argo's analysis rules as the simulator applies them (src/simulate/analysis.ts): measurement
// phases from the shipped conditions, and how a run ends.
import { readFileSync } from 'node:fs'
import t from 'tap'
import { assess, measurementAt, measurementPhase, metricRules, newMetricState, outcomeOf, record, templateMetric, type MeasurementPhase, type MetricRules } from '../../src/simulate/analysis.js'

const SHIPPED = templateMetric(readFileSync('analysis-templates/cluster-analysis-template.yaml', 'utf8'), 'cluster-analysis-template.yaml')

/** The run's phase after each of these measurements. */
function phases (rules: MetricRules, measured: MeasurementPhase[]): string[] {
  let state = newMetricState()
  return measured.map((p) => {
    state = record(state, p)
    return assess(rules, state)
  })
}

const S = 'Successful'
const F = 'Failed'
const I = 'Inconclusive'
const E = 'Error'

t.test('the shipped ClusterAnalysisTemplate: first look after 5m, every 5m, 12 at most, 3 passes promote', async (t) => {
  t.match(SHIPPED, { name: 'gate-verdict', initialDelaySeconds: 300, intervalSeconds: 300, count: 12, failureLimit: 0, inconclusiveLimit: 12, consecutiveSuccessLimit: 3, consecutiveErrorLimit: 12 })
  t.equal(measurementAt(SHIPPED, 1), 300)
  t.equal(measurementAt(SHIPPED, 12), 3600)
  const perStage = readFileSync('analysis-templates/analysis-templates.yaml', 'utf8')
  t.match(templateMetric(perStage, 'analysis-templates.yaml'), { initialDelaySeconds: 300, count: 12 }, 'the first template of a multi-document file with the metric')
  t.throws(() => templateMetric(perStage, 'x.yaml', 'nope'), /x\.yaml: no AnalysisTemplate or ClusterAnalysisTemplate with a metric named nope/)
})

t.test("the gate's answers get Argo's phases from the shipped conditions", async (t) => {
  t.equal(measurementPhase(SHIPPED, 'pass: score 100 at canary-1 | ...'), S)
  t.equal(measurementPhase(SHIPPED, 'fail: score 0 at canary-1'), F)
  t.equal(measurementPhase(SHIPPED, 'inconclusive: score 80 at canary-1'), I)
  t.equal(measurementPhase(SHIPPED, 'passed'), I, 'startsWith means the prefix, colon included')
  // Only one condition: the other is its negation (evaluate.go).
  const onlySuccess = { ...SHIPPED, failureCondition: '' }
  t.equal(measurementPhase(onlySuccess, 'inconclusive: x'), F)
  const onlyFailure = { ...SHIPPED, successCondition: '' }
  t.equal(measurementPhase(onlyFailure, 'inconclusive: x'), S)
  t.equal(measurementPhase({ ...SHIPPED, successCondition: '', failureCondition: '' }, 'fail: x'), S, 'no condition: Successful')
  // Both true: failure wins.
  t.equal(measurementPhase({ ...SHIPPED, successCondition: 'result contains "x"', failureCondition: 'result endsWith "x"' }, 'x'), F)
  t.equal(measurementPhase({ ...SHIPPED, successCondition: 'result == "ok"', failureCondition: 'result != "ok"' }, 'ok'), S)
  t.throws(() => metricRules({ name: 'm', successCondition: 'asFloat(result) > 0.5' }), /metric m: successCondition: the simulator evaluates only .*got "asFloat\(result\) > 0\.5"/)
  t.throws(() => metricRules({ name: 'm', interval: '5 minutes' }), /metric m: interval "5 minutes" is not a Go duration/)
})

t.test('a fail ends the step at once (failureLimit 0)', async (t) => {
  t.same(phases(SHIPPED, [I, S, F]), ['Running', 'Running', 'Failed'])
  t.same(phases(SHIPPED, [S, S, F]), ['Running', 'Running', 'Failed'], 'two passes do not protect from a fail')
  t.same(phases({ ...SHIPPED, failureLimit: 1 }, [F, I, F]), ['Running', 'Running', 'Failed'], 'failureLimit 1: the second fail ends it')
  t.equal(outcomeOf('Failed'), 'rolled_back')
  t.equal(outcomeOf('Error'), 'rolled_back')
})

t.test('three passes in a row promote; anything else in between starts the count again', async (t) => {
  t.same(phases(SHIPPED, [S, S, S]), ['Running', 'Running', 'Successful'])
  t.same(phases(SHIPPED, [S, S, I, S, S, S]), ['Running', 'Running', 'Running', 'Running', 'Running', 'Successful'])
  t.same(phases(SHIPPED, [S, S, E, S, S, S]).at(-1), 'Successful', 'an Error also breaks the run of passes')
  t.same(phases(SHIPPED, [S, S, E, S, S]).at(-1), 'Running')
  t.equal(outcomeOf('Successful'), 'promoted')
})

t.test('count exhausted without 3 passes in a row: Inconclusive (held), as Argo does with both limits set', async (t) => {
  const twelve: MeasurementPhase[] = Array.from({ length: 12 }, (_, i) => (i % 3 === 2 ? I : S))
  const out = phases(SHIPPED, twelve)
  t.same(out.slice(0, 11), Array(11).fill('Running'))
  t.equal(out[11], 'Inconclusive')
  t.equal(outcomeOf('Inconclusive'), 'held')
  // The other branches of rule 3.
  t.equal(phases({ ...SHIPPED, failureLimit: -1 }, twelve)[11], 'Failed', 'only consecutiveSuccessLimit applies: Failed')
  t.equal(phases({ ...SHIPPED, consecutiveSuccessLimit: 0 }, twelve)[11], 'Successful', 'only failureLimit applies: Successful')
  // Errors do not count toward the count.
  t.equal(phases({ ...SHIPPED, count: 2, consecutiveSuccessLimit: 3 }, [I, E, I]).join(), 'Running,Running,Inconclusive')
})

t.test('the limits on inconclusive answers and consecutive errors', async (t) => {
  t.same(phases({ ...SHIPPED, inconclusiveLimit: 1 }, [I, I]), ['Running', 'Inconclusive'])
  const errors = Array<MeasurementPhase>(13).fill(E)
  t.equal(phases(SHIPPED, errors).at(-2), 'Running', '12 errors in a row are survived')
  t.equal(phases(SHIPPED, errors).at(-1), 'Error', 'the 13th ends the run')
  t.equal(phases(SHIPPED, [...errors.slice(0, 12), I, E]).at(-1), 'Running', 'an answer resets the count of errors')
})
