/**
 * One time budget for a whole authentication. ldapts bounds each request and
 * the TCP connect, but not the TLS handshake of StartTLS, and a login is
 * several round trips: the broker needs one bound on all of them together.
 */

export class DeadlineExceeded extends Error {
  constructor(readonly ms: number) {
    super(`no answer within ${ms} ms`);
    this.name = 'DeadlineExceeded';
  }
}

/**
 * `work`, or a DeadlineExceeded rejection after `ms`, whichever comes first.
 * On the deadline `onExpiry` runs (to tear the connection down) and a later
 * settlement of `work` is swallowed.
 */
export function withDeadline<T>(work: Promise<T>, ms: number, onExpiry: () => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let done = false;
    const timer = setTimeout(() => {
      if (done) return;
      done = true;
      reject(new DeadlineExceeded(ms));
      onExpiry();
    }, ms);
    work.then(
      (value) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}
