/**
 * The kernel (src/events, src/protocol, src/router, src/log) imports nothing
 * above it: not the channel, sessions, delivery or the node, not auth,
 * projections or connectors. What it may use: itself, the logger, Node's own
 * modules and npm packages. Checked on the source, so a new import that breaks
 * the layering fails here.
 */
import { readdirSync, readFileSync, statSync } from 'fs';
import { dirname, join, relative, resolve } from 'path';

const root = resolve(__dirname, '..', '..');
const KERNEL = ['src/events', 'src/protocol', 'src/router', 'src/log'];
const ALLOWED = [...KERNEL, 'src/logger.ts'];

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...sources(p));
    else if (p.endsWith('.ts')) out.push(p);
  }
  return out;
}

/** Every module specifier a file imports (static, dynamic, require), type-only imports included. */
function specifiers(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const found: string[] = [];
  for (const m of text.matchAll(/(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|require\(\s*['"]([^'"]+)['"]\s*\)/g)) {
    found.push(m[1] ?? m[2] ?? m[3]);
  }
  return found;
}

function allowed(target: string): boolean {
  const rel = relative(root, target);
  return ALLOWED.some((a) => rel === a || rel === a.replace(/\.ts$/, '') || rel.startsWith(`${a}/`));
}

test.each(KERNEL)('%s imports nothing above the kernel', (dir) => {
  const offending: string[] = [];
  for (const file of sources(join(root, dir))) {
    for (const spec of specifiers(file)) {
      if (!spec.startsWith('.')) continue; // Node's modules and npm packages
      const target = resolve(dirname(file), spec);
      if (!allowed(target)) offending.push(`${relative(root, file)} imports ${spec}`);
    }
  }
  expect(offending).toEqual([]);
});

test('the check sees imports: a kernel file does import another kernel file', () => {
  expect(specifiers(join(root, 'src/protocol/PacketDecoder.ts'))).toContain('../events/types');
});
