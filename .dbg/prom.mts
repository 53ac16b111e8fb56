import { startPrometheus } from '../test/helpers/prometheus.ts'
import { BASELINE, CANARIES, openMetrics, HISTORY_END } from '../test/helpers/agent-history.ts'
const text = openMetrics([BASELINE, ...Object.values(CANARIES)])
console.log('bytes', text.length)
const t0 = Date.now()
const p = await startPrometheus(text)
console.log('started in', Date.now() - t0, 'ms', p.url)
const q = async (query: string, time = HISTORY_END / 1000) => { const r = await fetch(`${p.url}/api/v1/query?` + new URLSearchParams({ query, time: String(time) })); return [r.status, await r.text()] }
console.log(await q('sum(increase(cordum_scheduler_jobs_received_total{topic="job.support.healthy"}[10800s]))'))
console.log(await q('time() - max(max_over_time(timestamp(cordum_approval_queue_depth{risk_tier="all"} == 0)[10800s:1m]))'))
console.log(await q('histogram_quantile(0.95, sum by (le) (rate(agent_request_duration_seconds_bucket{rollouts_pod_template_hash="stable"}[10800s])))'))
console.log(await q('sum(increase(x{a="'))
await p.close()
