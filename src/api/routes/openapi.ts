/** GET /api/v1/openapi.json: every route, described from the routes themselves (so it cannot drift from them). */
import { Route } from '../ApiServer';

export function openApiRoute(routes: () => Route[], version: string): Route {
  return {
    method: 'GET',
    path: '/api/v1/openapi.json',
    summary: 'This description',
    open: true,
    handle() {
      const paths: Record<string, Record<string, unknown>> = {};
      for (const r of routes()) {
        if (r.hidden) continue;
        const path = r.path.replace(/:([a-z]+)/g, '{$1}');
        const params = [...r.path.matchAll(/:([a-z]+)/g)].map((p) => ({ name: p[1], in: 'path', required: true, schema: { type: 'string' } }));
        for (const [name, description] of Object.entries(r.query ?? {})) params.push({ name, in: 'query', required: false, schema: { type: 'string' }, description } as never);
        (paths[path] ??= {})[r.method.toLowerCase()] = {
          summary: r.summary,
          ...(params.length ? { parameters: params } : {}),
          ...(r.body
            ? { requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', properties: Object.fromEntries(Object.entries(r.body).map(([k, d]) => [k, { description: d }])) } } } } }
            : {}),
          security: r.open ? [] : [{ basic: [] }, { bearer: [] }],
          responses: { '200': { description: 'OK' }, '400': { description: 'bad input, with a message' }, '401': { description: 'credentials needed' }, '404': { description: 'not found' } },
        };
      }
      return {
        status: 200,
        json: {
          openapi: '3.0.3',
          info: { title: 'mqlog management API', version },
          components: { securitySchemes: { basic: { type: 'http', scheme: 'basic' }, bearer: { type: 'http', scheme: 'bearer' } } },
          paths,
        },
      };
    },
  };
}
