// Debian's chromium for the dashboard's browser tests (driven by playwright-core;
// no browser download). Installs it with apt-get when missing and we are root.
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

const PATHS = ['/usr/bin/chromium', '/usr/bin/chromium-browser'];

export function ensureChromium(log = (m) => process.stderr.write(`${m}\n`)) {
  if (PATHS.some((p) => existsSync(p))) return;
  const root = process.getuid?.() === 0;
  const apt = spawnSync('sh', ['-c', 'command -v apt-get']).status === 0;
  if (!root || !apt) {
    log(`chromium is missing and cannot be installed here (${root ? 'no apt-get' : 'not root'}): apt-get install chromium`);
    return; // the browser tests then fail, saying so
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  log('installing chromium with apt-get (for the dashboard tests) ...');
  let r = spawnSync('apt-get', ['install', '-y', '-qq', 'chromium'], { stdio: 'inherit', env });
  if (r.status !== 0) {
    spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
    r = spawnSync('apt-get', ['install', '-y', '-qq', 'chromium'], { stdio: 'inherit', env });
  }
  if (r.status !== 0) log(`apt-get install chromium failed (exit ${r.status})`);
}

if (import.meta.url === `file://${process.argv[1]}`) ensureChromium();
