/**
 * The SQL connector on MySQL or MariaDB (mysql2). Queries run as prepared
 * statements (`execute`), so %u/%c/%a values travel as bound parameters.
 */
import { createPool, Pool, RowDataPacket } from 'mysql2/promise';
import { describeError } from '../shared/deadline';
import { SqlQueriesConfig, SqlSettings, sqlSettings } from './sqlConfig';
import { SqlClient, SqlRow } from './SqlClient';
import { SqlConnector } from './SqlConnector';

export interface MySqlConnectorConfig extends SqlQueriesConfig {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 3306. */
  port?: number;
  user: string;
  /** Default: none. */
  password?: string;
  database: string;
}

export class MySqlConnector extends SqlConnector {
  constructor(config: MySqlConnectorConfig) {
    const settings = sqlSettings(config, 'mysql');
    super(new MySqlClient(config, settings), settings);
  }
}

class MySqlClient implements SqlClient {
  private readonly pool: Pool;

  constructor(
    config: MySqlConnectorConfig,
    private readonly settings: SqlSettings,
  ) {
    this.pool = createPool({
      host: config.host ?? '127.0.0.1',
      port: config.port ?? 3306,
      user: config.user,
      password: config.password ?? '',
      database: config.database,
      charset: 'utf8mb4',
      connectionLimit: settings.poolSize,
      // Idle connections are closed after a minute so a restarted server does not leave the pool full of dead ones.
      maxIdle: 0,
      idleTimeout: 60_000,
      connectTimeout: settings.timeoutMs,
      enableKeepAlive: true,
    });
    this.pool.on('connection', (connection) => {
      // A pooled connection the server drops while idle must not surface as an unhandled 'error' event.
      connection.on('error', (err: unknown) => settings.logger.warn({ err: describeError(err) }, 'MySQL connection failed'));
    });
  }

  marker(): string {
    return '?';
  }

  async query(text: string, params: readonly (string | null)[]): Promise<SqlRow[]> {
    // The driver-level timeout frees the connection of a query that outlived the connector's deadline.
    const [rows] = await this.pool.execute<RowDataPacket[]>({ sql: text, timeout: this.settings.timeoutMs }, [...params]);
    return rows;
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
