/**
 * `mqlog replay`: starts a replay on a node, reports its progress until it
 * ends, and cancels it on Ctrl-C.
 */
import type { ReplayStatus } from '../replay/ReplayJob';
import { ConfigError } from '../config';
import { ApiTarget, callApi } from './ApiClient';

export interface ReplayOptions {
  topic?: string;
  from?: string;
  to?: string;
  partition?: string;
  fromOffset?: string;
  toOffset?: string;
  target?: string;
  clientId?: string;
  prefix?: string;
  /** Return once started instead of following it. */
  detach: boolean;
}

const POLL_MS = 500;

export async function replay(target: ApiTarget, o: ReplayOptions, out: (line: string) => void, err: (line: string) => void): Promise<number> {
  const body: Record<string, unknown> = { topic: o.topic, target: o.target ?? 'subscribers' };
  if (o.from !== undefined) body.from = o.from;
  if (o.to !== undefined) body.to = o.to;
  if (o.partition !== undefined || o.fromOffset !== undefined || o.toOffset !== undefined) {
    const nums = [o.partition, o.fromOffset, o.toOffset].map(Number);
    if (nums.some((n) => !Number.isInteger(n))) throw new ConfigError('--partition, --from-offset and --to-offset go together, as whole numbers');
    body.positions = { [String(nums[0])]: [nums[1], nums[2]] };
  }
  if (o.clientId !== undefined) body.clientId = o.clientId;
  if (o.prefix !== undefined) body.prefix = o.prefix;
  let status = await callApi<ReplayStatus>(target, 'POST', '/api/v1/replay', body);
  err(`replay ${status.id} ${status.state}: ${status.total} record(s) in range`);
  if (o.detach || status.state !== 'running') return finish(status, out, err);
  let cancelling = false;
  const onSigint = () => {
    if (cancelling) return;
    cancelling = true;
    err(`cancelling replay ${status.id}...`);
    void callApi<ReplayStatus>(target, 'DELETE', `/api/v1/replay/${status.id}`).catch((e: Error) => err(`cancel failed: ${e.message}`));
  };
  process.on('SIGINT', onSigint);
  try {
    while (status.state === 'running') {
      await new Promise((r) => setTimeout(r, POLL_MS));
      status = await callApi<ReplayStatus>(target, 'GET', `/api/v1/replay/${status.id}`);
      err(`replay ${status.id}: ${status.progress}% scanned (${status.scanned}/${status.total}), ${status.replayed} replayed`);
    }
  } finally {
    process.off('SIGINT', onSigint);
  }
  return finish(status, out, err);
}

function finish(status: ReplayStatus, out: (line: string) => void, err: (line: string) => void): number {
  out(JSON.stringify(status));
  if (status.note) err(status.note);
  if (status.state === 'failed') {
    err(`replay ${status.id} failed: ${status.error}`);
    return 1;
  }
  if (status.state === 'cancelled') {
    err(`replay ${status.id} cancelled after ${status.replayed} message(s)`);
    return 3;
  }
  return 0;
}
