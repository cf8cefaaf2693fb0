/**
 * Test brokers on ephemeral loopback ports, with a real file log in a temp dir
 * (or a memory log where a test says so). Never port 1883.
 */
import { mkdtempSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { BrokerConfig, DeepPartial, loadConfig } from '../../src/config';
import { createBroker, CreateBrokerOptions } from '../../src/index';
import { silentLogger } from '../../src/logger';
import { BrokerNode, ListeningPorts } from '../../src/node/BrokerNode';

export interface TestBroker {
  node: BrokerNode;
  ports: ListeningPorts;
  dataDir: string;
  url: string;
  config: BrokerConfig;
  stop(): Promise<void>;
  /** Removes the data directory (after stop). */
  cleanup(): void;
}

export function tempDir(prefix = 'mqlog-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

function merge<T>(base: T, patch: DeepPartial<T> | undefined): T {
  if (!patch) return base;
  const out = { ...base } as Record<string, unknown>;
  for (const [k, v] of Object.entries(patch)) {
    const cur = out[k];
    out[k] = cur && typeof cur === 'object' && !Array.isArray(cur) && v && typeof v === 'object' && !Array.isArray(v) ? merge(cur, v as never) : v;
  }
  return out as T;
}

export async function startBroker(overrides: DeepPartial<BrokerConfig> = {}, options: CreateBrokerOptions & { dataDir?: string } = {}): Promise<TestBroker> {
  const dataDir = options.dataDir ?? tempDir();
  const base: DeepPartial<BrokerConfig> = {
    dataDir,
    listeners: {
      tcp: { enabled: true, host: '127.0.0.1', port: 0 },
      ws: { enabled: false, host: '127.0.0.1', port: 0 },
    },
    api: { host: '127.0.0.1', port: 0 },
    logging: { level: 'silent' },
  };
  const config = loadConfig({ object: merge(base, overrides) });
  const node = createBroker(config, { logger: options.logger ?? silentLogger(), ...options });
  const ports = await node.start();
  let stopped = false;
  return {
    node,
    ports,
    dataDir,
    config,
    url: `mqtt://127.0.0.1:${ports.tcp}`,
    async stop() {
      if (stopped) return;
      stopped = true;
      await node.stop();
    },
    cleanup() {
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
