// Makes `npm start` and `npm test` work on a fresh clone: installs dependencies
// when node_modules is missing or stale, and compiles when a source is newer
// than the build. Uses nothing but Node itself.
import { execSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const run = (cmd) => {
  process.stderr.write(`> ${cmd}\n`);
  execSync(cmd, { cwd: root, stdio: 'inherit' });
};

const lock = join(root, 'package-lock.json');
const installed = join(root, 'node_modules', '.package-lock.json');
if (!existsSync(installed) || statSync(lock).mtimeMs > statSync(installed).mtimeMs) {
  run('npm ci --no-audit --no-fund');
}

function newest(dir) {
  let t = 0;
  if (!existsSync(dir)) return t;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) t = Math.max(t, newest(p));
    else if (entry.name.endsWith('.ts')) t = Math.max(t, statSync(p).mtimeMs);
  }
  return t;
}
const built = join(root, 'dist', 'src', 'cli.js');
const sources = Math.max(...['src', 'projections', 'connectors', 'auth'].map((d) => newest(join(root, d))), statSync(join(root, 'tsconfig.json')).mtimeMs);
if (!existsSync(built) || statSync(built).mtimeMs < sources) {
  run('npx tsc -p tsconfig.build.json');
}
