/** mqlog's version, from its package.json (found from here upward: the same code runs from src/ under ts-jest and from dist/src/). */
import { existsSync, readFileSync } from 'fs';
import { dirname, join } from 'path';

function findVersion(): string {
  for (let dir = __dirname; ; dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'mqlog' && pkg.version) return pkg.version;
    }
    if (dirname(dir) === dir) return '0.0.0';
  }
}

export const VERSION = findVersion();
