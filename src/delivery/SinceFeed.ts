/**
 * Subscriptions that start in the past (a SUBSCRIBE with the user property
 * `since`, docs/history.md): the matching messages from the log in order since
 * then, followed by live ones with no gap and no duplicate.
 *
 * The subscription's route is held (live fan-out and the session's own pages
 * skip it) while this feed reads the message stream from the position of
 * `since`, in pages through the one ordered reader and the one delivery
 * decision, as fast as the session's queue takes them. When a page reaches the
 * node's current position the route is released, in the same step, with its
 * start at where the page ended: what the feed delivered is exactly what the
 * route would not, and the other way round.
 *
 * A session that ends before its feed caught up records where the feed had
 * read to, pulled back to its first message still queued (`client.disconnected`
 * feeds); when the session resumes, the feed continues from there.
 */
import { Positions, QoS, SubscriptionOptions } from '../events/types';
import { EventLog } from '../log/EventLog';
import { LocalRoutes } from '../router/LocalRoutes';
import { Delivery } from '../session/Session';
import { DeliveryReader } from './DeliveryCore';
import { readPage } from './LogPages';
import { parseTime } from '../history/HistoryQuery';

export interface FeedTarget {
  readonly channel: DeliveryReader;
  readonly isClosed: boolean;
  /** Deliveries the session queue can take now without falling behind into the log (0: wait). */
  room(): number;
  deliver(d: Delivery): void;
  /** The feed of `filter` delivered what it read up to `next`, or caught up (null). */
  progress(filter: string, next: number[] | null): void;
}

export interface FeedRequest {
  filter: string;
  qos: QoS;
  options?: SubscriptionOptions;
  /** Milliseconds since the epoch, or the positions a resumed session's feed had reached. */
  from: number | Positions;
}

const WAIT_MS = 10;
/** Feeds reading the log at once on a node; more wait their turn (a client cannot make the node read the log a thousand times over). */
export const MAX_RUNNING_FEEDS = 16;

export class SinceFeeds {
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(
    private readonly log: EventLog,
    private readonly stream: string,
    private readonly routes: LocalRoutes,
    private readonly position: () => Positions,
    private readonly failed: (err: Error) => void,
  ) {}

  start(target: FeedTarget, req: FeedRequest): void {
    const go = () => {
      this.running++;
      void this.run(target, req)
        .catch((err: Error) => this.failed(err))
        .finally(() => {
          this.running--;
          this.waiting.shift()?.();
        });
    };
    if (this.running < MAX_RUNNING_FEEDS) go();
    else this.waiting.push(go);
  }


  private async run(target: FeedTarget, req: FeedRequest): Promise<void> {
    const clientId = target.channel.clientId;
    const n = this.position().length;
    const from = req.from;
    const start = typeof from === 'number' ? await Promise.all(Array.from({ length: n }, (_, p) => this.log.offsetForTimestamp(this.stream, p, from))) : Array.from({ length: n }, (_, p) => from[p] ?? 0);
    const subscriptions = new Map([[req.filter, { qos: req.qos, since: start, ...(req.options ? { options: req.options } : {}) }]]);
    let cursor: number[] = [...start];
    for (;;) {
      if (target.isClosed || !this.routes.isHeld(clientId, req.filter)) return; // gone, or unsubscribed meanwhile
      const room = target.room();
      if (room <= 0) {
        await new Promise((r) => setTimeout(r, WAIT_MS));
        continue;
      }
      const page = await readPage(this.log, this.stream, { session: target.channel, subscriptions, from: cursor, upTo: this.position(), offlineUntil: null, limit: room });
      if (target.isClosed || !this.routes.isHeld(clientId, req.filter)) return;
      for (const d of page.deliveries) {
        d.feed = req.filter;
        target.deliver(d);
      }
      const now = this.position();
      if (page.complete && now.every((o, p) => page.next[p] >= o)) {
        // The handover: from here on the route delivers, starting where this page ended.
        this.routes.release(clientId, req.filter, page.next);
        target.progress(req.filter, null);
        return;
      }
      target.progress(req.filter, page.next);
      cursor = page.next;
    }
  }
}

/**
 * `since` as a SUBSCRIBE user property gives it: an ISO 8601 time (or epoch ms)
 * or a duration back from `now` (30s, 15m, 24h, 7d). Null: not a valid one.
 * The result is a whole number of milliseconds in [0, now]: it is recorded with
 * the subscription, so a time before 1970 (or a duration reaching past it)
 * means from the start of the log, and one in the future means now.
 */
export function parseSince(text: string, now: number): number | null {
  const d = /^(\d{1,9})(s|m|h|d)$/.exec(text.trim());
  let at: number;
  if (d) at = now - Number(d[1]) * { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[d[2] as 's' | 'm' | 'h' | 'd'];
  else {
    // The times history and replay take (ISO 8601, or epoch milliseconds).
    try {
      at = parseTime(text, 'since');
    } catch {
      return null;
    }
  }
  if (!Number.isFinite(at)) return null;
  return Math.max(0, Math.min(Math.floor(at), now));
}
