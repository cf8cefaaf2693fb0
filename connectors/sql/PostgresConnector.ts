/**
 * The SQL connector on PostgreSQL (pg). %u/%c/%a become $1, $2… parameters of
 * an extended-protocol query, never text in the statement.
 */
import { Pool } from 'pg';
import { describeError } from '../shared/deadline';
import { SqlQueriesConfig, SqlSettings, sqlSettings } from './sqlConfig';
import { SqlClient, SqlRow } from './SqlClient';
import { SqlConnector } from './SqlConnector';

export interface PostgresConnectorConfig extends SqlQueriesConfig {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 5432. */
  port?: number;
  user: string;
  /** Default: none. */
  password?: string;
  database: string;
}

export class PostgresConnector extends SqlConnector {
  constructor(config: PostgresConnectorConfig) {
    const settings = sqlSettings(config, 'postgres');
    super(new PostgresClient(config, settings), settings);
  }
}

class PostgresClient implements SqlClient {
  private readonly pool: Pool;

  constructor(config: PostgresConnectorConfig, settings: SqlSettings) {
    this.pool = new Pool({
      host: config.host ?? '127.0.0.1',
      port: config.port ?? 5432,
      user: config.user,
      password: config.password,
      database: config.database,
      max: settings.poolSize,
      idleTimeoutMillis: 60_000,
      connectionTimeoutMillis: settings.timeoutMs,
      // Client- and server-side limits free the connection (and the server) of a query that outlived the deadline.
      query_timeout: settings.timeoutMs,
      statement_timeout: settings.timeoutMs,
      application_name: 'mqlog',
    });
    // Without a listener, an idle connection the server drops would crash the process.
    this.pool.on('error', (err) => settings.logger.warn({ err: describeError(err) }, 'idle PostgreSQL connection failed'));
  }

  marker(position: number): string {
    return `$${position}`;
  }

  async query(text: string, params: readonly (string | null)[]): Promise<SqlRow[]> {
    // PostgreSQL text cannot hold U+0000 and refuses such a parameter. No stored name or id can equal it, and
    // neither can NULL, so NULL is bound instead: the rows for everyone in the ACL query still come back.
    const values = params.map((p) => (p !== null && p.includes('\u0000') ? null : p));
    const result = await this.pool.query({ text, values });
    return result.rows as SqlRow[];
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
