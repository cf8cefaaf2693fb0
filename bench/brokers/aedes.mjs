// Aedes from npm, in its own process (bench/aedes-server.mjs).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../lib/net.mjs';
import { singleProcess, startBrokerProcess } from './common.mjs';

const here = dirname(fileURLToPath(import.meta.url));

export async function startAedes({ workDir, cpu }) {
  const port = await freePort();
  const proc = await startBrokerProcess({ name: `aedes-${port}`, cpu, cmd: process.execPath, args: [join(here, '..', 'aedes-server.mjs'), String(port)], workDir, port });
  return singleProcess('aedes', proc, port);
}

export function aedesVersion() {
  const require = createRequire(import.meta.url);
  const pkg = join(dirname(require.resolve('aedes')), 'package.json');
  return JSON.parse(readFileSync(pkg, 'utf8')).version;
}
