/** GET /metrics: Prometheus exposition (prom-client); needs the API credentials unless api.metrics.open. */
import { Route } from '../ApiServer';

export function metricsRoute(render: () => Promise<{ body: string; contentType: string }>, open: boolean): Route {
  return {
    method: 'GET',
    path: '/metrics',
    open,
    summary: 'Prometheus metrics',
    async handle() {
      const { body, contentType } = await render();
      return { status: 200, text: body, contentType };
    },
  };
}
