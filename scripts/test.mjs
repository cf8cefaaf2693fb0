// `npm test`: type-checks, starts the real services the suites need when they
// are not already running, runs every jest suite, and stops what it started.
// Extra arguments go to jest (e.g. `npm test -- test/integration/qos.test.ts`).
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureChromium } from './chromium.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);

function step(title, cmd, cmdArgs, env = {}) {
  process.stderr.write(`\n== ${title}: ${cmd} ${cmdArgs.join(' ')}\n`);
  const r = spawnSync(cmd, cmdArgs, { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } });
  if (r.status !== 0) {
    process.stderr.write(`\n${title} failed (exit ${r.status ?? r.signal})\n`);
    process.exit(r.status ?? 1);
  }
}

step('type check', 'npx', ['tsc', '-p', 'tsconfig.json', '--noEmit']);
// The dashboard's browser tests need Debian's chromium (never a downloaded browser).
ensureChromium();
// Services (Kafka, Elasticsearch, LDAP, databases) are started here by the suites that need them.
step('tests', 'npx', ['jest', '--ci', ...args]);
