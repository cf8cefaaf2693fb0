/**
 * Faults a test can switch on for a broker it runs as a child process, to prove
 * recovery from each named crash point of a flush (BatchJournal) and from a
 * failed fdatasync. Read once from the environment; with neither variable set
 * (always, outside tests) every check is a test of one constant.
 *
 *   MQLOG_TEST_CRASH_AT=<point>[:<n>]   SIGKILL the process the n-th time (default 1st) a
 *                                       flush reaches <point> (see BatchJournal for the points)
 *   MQLOG_TEST_CRASH_ARM=SIGUSR2        count only from the first SIGUSR2 the process gets (so a
 *                                       test can set up clients first)
 *   MQLOG_TEST_FAIL_FSYNC=<n>           fail the n-th fdatasync of a segment and every one after it (EIO)
 */
export type CrashPoint = 'file-log.before-write' | 'file-log.between-partition-writes' | 'file-log.before-commit' | 'file-log.after-commit';

const crashSpec = process.env.MQLOG_TEST_CRASH_AT ?? '';
const [crashAt, crashNth] = crashSpec.split(':');
let crashCountdown = crashAt ? Number(crashNth || 1) : 0;
let armed = process.env.MQLOG_TEST_CRASH_ARM !== 'SIGUSR2';
if (crashAt && !armed) process.once('SIGUSR2', () => (armed = true));

/** Kills the process here when a test asked for this point (and this is the n-th time it is reached). */
export function crashPoint(point: CrashPoint): void {
  if (crashCountdown === 0 || point !== crashAt || !armed) return;
  if (--crashCountdown === 0) process.kill(process.pid, 'SIGKILL');
}

const failFsyncFrom = Number(process.env.MQLOG_TEST_FAIL_FSYNC || 0);
let fsyncs = 0;

/** Throws EIO for the n-th fdatasync on and after it, when a test asked for it. */
export function fsyncFault(): void {
  if (failFsyncFrom === 0) return;
  if (++fsyncs >= failFsyncFrom) {
    const err = new Error('EIO: i/o error, fdatasync (injected by MQLOG_TEST_FAIL_FSYNC)') as NodeJS.ErrnoException;
    err.code = 'EIO';
    throw err;
  }
}
