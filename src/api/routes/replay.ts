/**
 * Replays: POST /api/v1/replay starts one (202 with its status; 200 when the
 * range is empty and it is already complete), GET /api/v1/replay lists them,
 * GET /api/v1/replay/:id reports progress, DELETE /api/v1/replay/:id cancels.
 */
import { Replays } from '../../replay/Replays';
import { parseReplayRequest } from '../../replay/ReplayRequest';
import { NotFound, Route } from '../ApiServer';

export function replayRoutes(replays: Replays, messagePartitions: number): Route[] {
  const job = (id: string) => {
    const j = replays.get(id);
    if (!j) throw new NotFound(`no replay '${id}' on this node`);
    return j;
  };
  return [
    {
      method: 'POST',
      path: '/api/v1/replay',
      async handle(req) {
        const j = await replays.start(parseReplayRequest(req.body, messagePartitions));
        const status = j.status();
        return { status: status.state === 'running' ? 202 : 200, json: status };
      },
    },
    { method: 'GET', path: '/api/v1/replay', handle: () => ({ status: 200, json: { replays: replays.list() } }) },
    { method: 'GET', path: '/api/v1/replay/:id', handle: (req) => ({ status: 200, json: job(req.params[0]).status() }) },
    {
      method: 'DELETE',
      path: '/api/v1/replay/:id',
      async handle(req) {
        const j = job(req.params[0]);
        const cancelled = j.cancel();
        await j.done;
        return { status: 200, json: { ...j.status(), cancelRequested: cancelled } };
      },
    },
  ];
}
