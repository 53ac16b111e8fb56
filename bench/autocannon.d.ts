// The few parts of autocannon's API the bench uses (the package ships no types).
declare module 'autocannon' {
  interface Histogram { average: number, mean: number, p50: number, p90: number, p99: number, max: number, total: number }
  interface Options { url: string, connections?: number, duration?: number, amount?: number, pipelining?: number, timeout?: number }
  interface Result { requests: Histogram, latency: Histogram, non2xx: number, errors: number, timeouts: number, duration: number, '2xx': number }
  function autocannon (opts: Options): Promise<Result>
  export default autocannon
}
