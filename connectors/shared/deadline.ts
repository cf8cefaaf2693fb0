/**
 * The time limit every connector call runs under. A back end that is down,
 * slow or answers with an error becomes a ConnectorUnavailable for the caller,
 * never a raw driver error and never a call that hangs: the broker turns it into
 * CONNACK 3 (server unavailable) instead of waiting on a dead database.
 */
import { ConnectorUnavailable } from '../../auth/types';

export interface DeadlineOptions {
  /** The connector's name, for the error message. */
  connector: string;
  timeoutMs: number;
  /** What was attempted ("auth query", "ACL lookup"...), for the error message. */
  what: string;
}

/**
 * Runs `work` and settles with its result, or rejects with ConnectorUnavailable
 * when it fails or takes longer than `timeoutMs`. `work` receives a signal that
 * is aborted at the deadline, so drivers that support it (http) can free the
 * socket; the others are left to their own driver-level timeouts.
 */
export function withDeadline<T>(options: DeadlineOptions, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const { connector, timeoutMs, what } = options;
  const abort = new AbortController();
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      abort.abort();
      reject(new ConnectorUnavailable(connector, `${what}: no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    let started: Promise<T>;
    try {
      started = work(abort.signal);
    } catch (err) {
      started = Promise.reject(err);
    }
    // Settling twice is a no-op, so a late answer or failure after the deadline is dropped here.
    started.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(asUnavailable(connector, what, err));
      },
    );
  });
}

export function asUnavailable(connector: string, what: string, err: unknown): ConnectorUnavailable {
  if (err instanceof ConnectorUnavailable) return err;
  return new ConnectorUnavailable(connector, `${what}: ${describeError(err)}`);
}

const MAX_DETAIL = 300;

/**
 * A short, single-line description of a driver error. Driver messages name the
 * server, the error code and at most the query text, never the bound values
 * (passwords are never sent to SQL or Redis back ends anyway).
 */
export function describeError(err: unknown): string {
  // Duck-typed rather than instanceof: errors made by Node's core modules come from another realm under jest's vm.
  if (typeof err !== 'object' || err === null || typeof (err as { message?: unknown }).message !== 'string') return String(err).slice(0, MAX_DETAIL);
  const { message, code, errors, name } = err as { message: string; code?: unknown; errors?: unknown; name?: unknown };
  // Connecting to "localhost" tries IPv6 and IPv4 and fails with an AggregateError whose own message is empty.
  const inner = Array.isArray(errors) && errors.length > 0 ? describeError(errors[0]) : '';
  const text = [typeof code === 'string' && !message.includes(code) ? code : '', message || inner || String(name)].filter(Boolean).join(' ');
  return text.replace(/\s+/g, ' ').slice(0, MAX_DETAIL);
}
