/**
 * Structured logging (pino). Every component takes a child logger with its own
 * `component` binding so operators can filter one part of the broker.
 */
import pino, { Logger, LevelWithSilent } from 'pino';

export type { Logger };

export interface LoggerOptions {
  level?: LevelWithSilent;
  /** Write to this file descriptor instead of stdout (2 = stderr). */
  fd?: number;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? (process.env.MQLOG_LOG_LEVEL as LevelWithSilent | undefined) ?? 'info';
  return pino({ level, base: { pid: process.pid } }, pino.destination({ fd: options.fd ?? 1, sync: false }));
}

/** A logger that drops everything, for library use and tests that assert on behaviour, not logs. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
