/** The decision pages people open from Argo, Grafana and the logs (HTML, server-rendered). */

/** The path of a decision's page; `reportUrl` is PUBLIC_URL (or the request's address) + this. */
export function decisionPath (id: string): string {
  return `/decisions/${encodeURIComponent(id)}`
}
