/**
 * Structured logging (pino). Every component takes a child logger with its own
 * `component` binding so operators can filter one part of the broker.
 */
import pino, { Logger, LevelWithSilent } from 'pino';
import pinoPretty from 'pino-pretty';
import { isatty } from 'tty';

export type { Logger };

export interface LoggerOptions {
  level?: LevelWithSilent;
  /** Write to this file descriptor instead of stdout (2 = stderr). */
  fd?: number;
  /** Readable lines (pino-pretty) instead of JSON; default: when the output is a terminal. */
  pretty?: boolean;
}

/** pino JSON for log collectors; readable lines when a person watches a terminal (MQLOG_LOG_FORMAT=json|pretty forces one). */
export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? (process.env.MQLOG_LOG_LEVEL as LevelWithSilent | undefined) ?? 'info';
  const fd = options.fd ?? 1;
  const format = process.env.MQLOG_LOG_FORMAT;
  const pretty = options.pretty ?? (format === 'pretty' || (format !== 'json' && isatty(fd)));
  if (pretty) {
    // In this thread (no worker): a person reads it, and a crash must not lose the last lines.
    const stream = pinoPretty({ destination: fd, colorize: isatty(fd), translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname', sync: true });
    return pino({ level, base: { pid: process.pid } }, stream);
  }
  return pino({ level, base: { pid: process.pid } }, pino.destination({ fd, sync: false }));
}

/** A logger that drops everything, for library use and tests that assert on behaviour, not logs. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
