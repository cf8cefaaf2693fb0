/**
 * The real MariaDB, PostgreSQL and Redis the connector tests run against:
 * checked with a protocol-level ping and started when down (scripts/services),
 * once per jest worker. A service that cannot be brought up fails the test with
 * a message naming it and the command tried; nothing is skipped, nothing mocked.
 */
import { createServer } from 'net';
import { join } from 'path';
import type * as ServicesLib from '../../scripts/services/lib.cjs';

/* eslint-disable @typescript-eslint/no-var-requires */
const lib = require(join(__dirname, '..', '..', 'scripts', 'services', 'lib.cjs')) as typeof ServicesLib;

export type { SqlServiceSettings, RedisServiceSettings } from '../../scripts/services/lib.cjs';

const ensured = new Map<string, Promise<unknown>>();

function once<T>(name: string, ensure: () => Promise<T>): Promise<T> {
  let pending = ensured.get(name) as Promise<T> | undefined;
  if (!pending) {
    pending = ensure();
    // A failed attempt is not remembered: the next test tries (and reports) again.
    pending.catch(() => ensured.delete(name));
    ensured.set(name, pending);
  }
  return pending;
}

export function ensureMariaDb(): Promise<ServicesLib.SqlServiceSettings> {
  return once('mariadb', () => lib.ensureService('mariadb', { quiet: true }));
}

export function ensurePostgres(): Promise<ServicesLib.SqlServiceSettings> {
  return once('postgres', () => lib.ensureService('postgres', { quiet: true }));
}

export function ensureRedis(): Promise<ServicesLib.RedisServiceSettings> {
  return once('redis', () => lib.ensureService('redis', { quiet: true }));
}

/** A loopback port nothing listens on (bound once, then released), for "server down" cases. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A name unique to this run and worker, safe as a SQL identifier and a Redis key prefix. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${process.pid}_${Date.now().toString(36)}_${Math.floor(Math.random() * 1e6).toString(36)}`;
}
