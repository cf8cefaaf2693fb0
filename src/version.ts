/**
 * mqlog's package root and version, from its package.json found from here
 * upward: the same code runs from src/ under ts-jest and from dist/src/.
 */
import { existsSync, readFileSync } from 'fs';
import { dirname, join } from 'path';

function findPackage(): { root: string; version: string } {
  for (let dir = __dirname; ; dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'mqlog' && pkg.version) return { root: dir, version: pkg.version };
    }
    if (dirname(dir) === dir) throw new Error(`mqlog's package.json not found above ${__dirname}`);
  }
}

const found = findPackage();
export const VERSION = found.version;
/** The directory holding package.json (src/dashboard and node_modules are found from here). */
export const PACKAGE_ROOT = found.root;
