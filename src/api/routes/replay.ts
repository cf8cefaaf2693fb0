/**
 * Replays: POST /api/v1/replay starts one (202 with its status; 200 when the
 * range is empty and it is already complete), GET /api/v1/replay lists them,
 * GET /api/v1/replay/:id reports progress, DELETE /api/v1/replay/:id cancels.
 * Replays are for the API's (admin) credentials only; at most
 * api.replay.maxConcurrent run at once (429 beyond) and one may scan at most
 * api.replay.maxRecords log records (400 beyond).
 */
import type { LimitName } from '../../channel/limits';
import { BadRequest } from '../../history/HistoryQuery';
import { ReplayRefused, Replays } from '../../replay/Replays';
import { parseReplayRequest } from '../../replay/ReplayRequest';
import { NotFound, Route, TooManyRequests } from '../ApiServer';

export function replayRoutes(replays: Replays, messagePartitions: number, onLimit?: (limit: LimitName, detail: string) => void): Route[] {
  const job = (id: string) => {
    const j = replays.get(id);
    if (!j) throw new NotFound(`no replay '${id}' on this node`);
    return j;
  };
  return [
    {
      method: 'POST',
      path: '/api/v1/replay',
      summary: 'Start a replay of history into the broker (docs/history.md)',
      body: { topic: 'filter', from: 'time', to: 'time', target: "'topic' or a client id", rate: 'messages per second' },
      async handle(req) {
        let j;
        try {
          j = await replays.start(parseReplayRequest(req.body, messagePartitions));
        } catch (err) {
          if (!(err instanceof ReplayRefused)) throw err;
          onLimit?.(err.limit, err.message);
          if (err.limit === 'api.replay.maxConcurrent') throw new TooManyRequests(err.message, 5);
          throw new BadRequest(err.message);
        }
        const status = j.status();
        return { status: status.state === 'running' ? 202 : 200, json: status };
      },
    },
    { method: 'GET', path: '/api/v1/replay', summary: 'Replays on this node', handle: () => ({ status: 200, json: { replays: replays.list() } }) },
    { method: 'GET', path: '/api/v1/replay/:id', summary: "A replay's progress", handle: (req) => ({ status: 200, json: job(req.params[0]).status() }) },
    {
      method: 'DELETE',
      path: '/api/v1/replay/:id',
      summary: 'Cancel a replay',
      async handle(req) {
        const j = job(req.params[0]);
        const cancelled = j.cancel();
        await j.done;
        return { status: 200, json: { ...j.status(), cancelRequested: cancelled } };
      },
    },
  ];
}
