/**
 * Serving a session's `read-log` effects: the next page of its message stream
 * (LogPages) from its cursor to the node's position, with its subscriptions on
 * this node. Messages retention deleted before the session read them are
 * counted for it and logged; an undecodable record fails the node.
 */
import { Effect } from '../channel/effects';
import { Positions } from '../events/types';
import { EventLog } from '../log/EventLog';
import { UndecodableRecord } from '../log/UndecodableRecord';
import { Logger } from '../logger';
import { LocalRoutes } from '../router/LocalRoutes';
import { Delivery } from '../session/Session';
import { DeliveryReader } from './DeliveryCore';
import { readPage } from './LogPages';

/** A connection whose session reads pages. */
export interface PageReader {
  readonly channel: DeliveryReader & { readonly connectionId: string; pageFailed(): void };
  readonly isClosed: boolean;
  pageRead(deliveries: Delivery[], next: number[], complete: boolean): void;
  /** Asks the session to pump again (it will ask for the page again). */
  drained(): void;
}

/** How long a session waits before asking again after a failed read. */
const RETRY_MS = 1000;

export class SessionPages {
  constructor(
    private readonly log: EventLog,
    private readonly stream: string,
    private readonly routes: LocalRoutes,
    private readonly position: () => Positions,
    /** Messages deleted by retention before this session read them. */
    private readonly expired: (reader: PageReader, count: number) => void,
    private readonly undecodable: (err: UndecodableRecord) => void,
    private readonly logger: Logger,
    private readonly counters: { logPagesRead: number; deliveriesFromLog: number },
  ) {}

  read(reader: PageReader, effect: Extract<Effect, { type: 'read-log' }>): void {
    const session = reader.channel;
    readPage(this.log, this.stream, {
      session,
      subscriptions: this.routes.routesOf(session.clientId),
      shared: { connectionId: session.connectionId, routes: this.routes.shared.of(session.clientId) },
      from: effect.from,
      upTo: this.position(),
      offlineUntil: effect.offlineUntil,
      limit: effect.limit,
    }).then(
      (page) => {
        this.counters.logPagesRead++;
        this.counters.deliveriesFromLog += page.deliveries.length;
        if (page.expired > 0) this.expired(reader, page.expired);
        if (!reader.isClosed) reader.pageRead(page.deliveries, page.next, page.complete);
      },
      (err: Error) => {
        if (err instanceof UndecodableRecord) {
          this.undecodable(err);
          return;
        }
        this.logger.error({ err, clientId: session.clientId }, 'reading a session from the log failed; will retry');
        session.pageFailed();
        setTimeout(() => reader.drained(), RETRY_MS).unref();
      },
    );
  }
}
