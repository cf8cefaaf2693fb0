/** GET /metrics: Prometheus text exposition of the node's counters and the archiver's lag; needs the API credentials unless api.metrics.open. */
import { Route } from '../ApiServer';

export interface MetricSample {
  name: string;
  help: string;
  type: 'counter' | 'gauge';
  value: number;
  /** Label values of this sample (bounded sets only: never a client id or topic). */
  labels?: Record<string, string>;
}

export function metricsRoute(samples: () => Promise<MetricSample[]> | MetricSample[], open: boolean): Route {
  return {
    method: 'GET',
    path: '/metrics',
    open,
    async handle() {
      const lines: string[] = [];
      const described = new Set<string>();
      for (const s of await samples()) {
        if (!described.has(s.name)) {
          described.add(s.name);
          lines.push(`# HELP ${s.name} ${s.help}`, `# TYPE ${s.name} ${s.type}`);
        }
        const labels = s.labels ? `{${Object.entries(s.labels).map(([k, v]) => `${k}="${v}"`).join(',')}}` : '';
        lines.push(`${s.name}${labels} ${s.value}`);
      }
      return { status: 200, text: `${lines.join('\n')}\n`, contentType: 'text/plain; version=0.0.4; charset=utf-8' };
    },
  };
}
