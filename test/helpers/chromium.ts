/** Debian's chromium for the browser tests: installed by .ci/run and `npm test` (scripts/chromium.mjs); never downloaded. */
import { existsSync } from 'fs';

export function chromiumPath(): string {
  for (const p of ['/usr/bin/chromium', '/usr/bin/chromium-browser']) if (existsSync(p)) return p;
  throw new Error('chromium not found: install Debian\'s chromium package (apt-get install chromium), as `npm test` does when it runs as root');
}
