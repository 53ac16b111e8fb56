/** Number formatting for reasons a person reads: rates as percentages, ages as durations. */

export function pct (x: number): string {
  if (x === 0) return '0%'
  const p = x * 100
  if (p >= 0.1) return `${p.toFixed(1)}%`
  return `${p.toPrecision(2)}%`
}

export function ratio (x: number): string {
  return `${Number(x.toFixed(2))}x`
}

export function seconds (s: number): string {
  if (s < 120) return `${Math.round(s)}s`
  if (s < 7200) return `${Math.round(s / 60)}m`
  return `${(s / 3600).toFixed(1)}h`
}

/** "8.1% (27/333, bound 5.6%-11.4%)" */
export function rateText (arm: { n: number, k: number, rate: number, lower: number, upper: number }): string {
  return `${pct(arm.rate)} (${arm.k}/${arm.n}, bound ${pct(arm.lower)}-${pct(arm.upper)})`
}
