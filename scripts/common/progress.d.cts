// Types for scripts/common/progress.cjs, and the logging options every scripts/*/lib.cjs takes.

export interface LogOptions {
  /** no progress messages on stderr */
  quiet?: boolean;
  /** receives progress messages instead of stderr */
  log?: (msg: string) => void;
}

export declare function progressLogger(opts: LogOptions, tag: string): (msg: string) => void;
export declare function secondsSince(t0: number): string;
