/** A node's identity when none is configured: generated once and kept in <dataDir>/node-id. */
import { randomUUID } from 'crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'fs';
import { join } from 'path';

export function persistentNodeId(dataDir: string): string {
  const file = join(dataDir, 'node-id');
  try {
    const id = readFileSync(file, 'utf8').trim();
    if (id) return id;
  } catch {
    // first start: make one below
  }
  mkdirSync(dataDir, { recursive: true });
  const id = `node-${randomUUID().slice(0, 8)}`;
  writeFileSync(file, `${id}\n`);
  return id;
}
