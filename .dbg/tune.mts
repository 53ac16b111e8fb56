import { loadGatesFile } from '../src/config/load.ts'
import { judge } from '../src/gate/verdict.ts'
import { CANARIES, expectedObservations, HISTORY_END } from '../test/helpers/agent-history.ts'
const { policy } = await loadGatesFile('analysis-templates/examples/gates-prometheus.yaml')
const until = HISTORY_END, since = until - 3 * 3600_000
for (const [name, p] of Object.entries(CANARIES)) {
  const o = expectedObservations(p, since, until)
  for (const st of ['shadow', 'canary-1', 'canary-2', 'full']) {
    const j = judge(policy.stages[st]!, o)
    console.log(name.padEnd(14), st.padEnd(9), j.verdict.padEnd(13), String(j.score).padEnd(5), j.reasonCodes.join(','), j.triggers.filter(t => t.fired).map(t => t.name).join(','), '|', j.signals.map(s => `${s.name}:${s.status}`).join(' '))
  }
}
const o = expectedObservations(CANARIES.healthy!, HISTORY_END - 7*3600_000, HISTORY_END - 4*3600_000)
console.log(JSON.stringify(o.signals.approval_backlog), judge(policy.stages['canary-1']!, o).verdict)
