/** GET /metrics: Prometheus text exposition of the node's counters and the archiver's lag; needs the API credentials unless api.metrics.open. */
import { Route } from '../ApiServer';

export interface MetricSample {
  name: string;
  help: string;
  type: 'counter' | 'gauge';
  value: number;
}

export function metricsRoute(samples: () => Promise<MetricSample[]> | MetricSample[], open: boolean): Route {
  return {
    method: 'GET',
    path: '/metrics',
    open,
    async handle() {
      const lines: string[] = [];
      for (const s of await samples()) lines.push(`# HELP ${s.name} ${s.help}`, `# TYPE ${s.name} ${s.type}`, `${s.name} ${s.value}`);
      return { status: 200, text: `${lines.join('\n')}\n`, contentType: 'text/plain; version=0.0.4; charset=utf-8' };
    },
  };
}
