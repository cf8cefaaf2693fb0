/**
 * The dashboard's files, served by the broker from the package (src/dashboard
 * and uPlot's build): no build server, no CDN, works offline. Read once at
 * start; only these names are served. Open routes: the page logs in through
 * the API like any client.
 */
import { readFileSync } from 'fs';
import { dirname, join } from 'path';
import { PACKAGE_ROOT } from '../../version';
import { Route } from '../ApiServer';

const TYPES: Record<string, string> = { html: 'text/html; charset=utf-8', js: 'text/javascript; charset=utf-8', css: 'text/css; charset=utf-8' };

function files(): Map<string, { body: Buffer; type: string }> {
  const own = join(PACKAGE_ROOT, 'src', 'dashboard');
  const uplot = dirname(require.resolve('uplot/dist/uPlot.iife.min.js', { paths: [PACKAGE_ROOT] }));
  const out = new Map<string, { body: Buffer; type: string }>();
  for (const [name, dir] of [['index.html', own], ['app.js', own], ['style.css', own], ['uPlot.iife.min.js', uplot], ['uPlot.min.css', uplot]] as const) {
    out.set(name, { body: readFileSync(join(dir, name)), type: TYPES[name.split('.').pop()!] });
  }
  return out;
}

export function dashboardRoutes(): Route[] {
  const served = files();
  const answer = (name: string) => {
    const f = served.get(name);
    if (!f) return { status: 404, json: { error: `no such file: ${name.slice(0, 80)}` } };
    return { status: 200, text: f.body, contentType: f.type };
  };
  return [
    { method: 'GET', path: '/', summary: 'The dashboard', open: true, hidden: true, handle: () => answer('index.html') },
    { method: 'GET', path: '/dashboard/:file', summary: "The dashboard's files", open: true, hidden: true, handle: (req) => answer(req.params[0]) },
  ];
}
