/**
 * What the SQL connector needs from a database driver: parameterised queries
 * over a connection pool. MySqlClient (mysql2) and PostgresClient (pg) provide it.
 */

export type SqlRow = Readonly<Record<string, unknown>>;

export interface SqlClient {
  /** The driver's marker for the n-th (1-based) parameter: `?` or `$n`. */
  marker(position: number): string;
  /** Runs `text` with `params` bound as parameters; resolves with the result rows. */
  query(text: string, params: readonly (string | null)[]): Promise<SqlRow[]>;
  /** Closes the pool. */
  close(): Promise<void>;
}
