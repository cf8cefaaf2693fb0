/**
 * The PostgreSQL connector against the real PostgreSQL (started when down):
 * the shared authenticator and ACL source contracts, then what is particular to
 * SQL back ends — injection attempts, exact user name matching, the hash
 * formats, placeholders, invalid rows, timeouts and recovery.
 */
import { Client } from 'pg';
import { PostgresConnector, PostgresConnectorConfig } from '../../connectors/sql';
import { ensurePostgres, SqlServiceSettings } from '../helpers/services';
import { describeConnectorContracts } from './connectorBackend';
import { describeSqlConnectorSpecifics, SqlTestDatabase } from './sqlConnectorSpecifics';

class PostgresTestDatabase extends SqlTestDatabase<PostgresConnectorConfig> {
  readonly type = 'postgres';
  /** Connected to the service's database: creates and drops ours. */
  private server: Client | null = null;
  /** Connected to ours: creates the tables and seeds them. */
  private admin: Client | null = null;

  constructor() {
    super('mqlog_pg');
  }

  async sql(text: string, params: unknown[] = []): Promise<unknown[]> {
    await this.open();
    return (await this.admin!.query(text, params)).rows;
  }

  protected placeholder(n: number): string {
    return `$${n}`;
  }

  protected flag(value: boolean): boolean {
    return value;
  }

  protected ensureService(): Promise<SqlServiceSettings> {
    return ensurePostgres();
  }

  protected build(config: PostgresConnectorConfig): PostgresConnector {
    return new PostgresConnector(config);
  }

  protected async dropStore(): Promise<void> {
    await this.admin?.end();
    this.admin = null;
    if (this.server) {
      await this.server.query(`DROP DATABASE IF EXISTS "${this.name}" WITH (FORCE)`);
      await this.server.end();
      this.server = null;
    }
  }

  protected async open(): Promise<void> {
    if (this.admin) return;
    const s = await this.serviceSettings();
    const connect = async (database: string) => {
      const client = new Client({ host: s.host, port: s.port, user: s.user, password: s.password, database });
      await client.connect();
      return client;
    };
    this.server = await connect(s.database);
    await this.server.query(`CREATE DATABASE "${this.name}" ENCODING 'UTF8' TEMPLATE template0`);
    const admin = await connect(this.name);
    await admin.query(`CREATE TABLE mqtt_user (
      id SERIAL PRIMARY KEY,
      username TEXT NOT NULL UNIQUE,
      password_hash TEXT,
      salt TEXT,
      is_superuser BOOLEAN NOT NULL DEFAULT false)`);
    await admin.query(`CREATE TABLE mqtt_acl (
      id SERIAL PRIMARY KEY,
      username TEXT,
      clientid TEXT,
      permission TEXT NOT NULL,
      action TEXT NOT NULL,
      topic TEXT NOT NULL)`);
    await admin.query('CREATE INDEX ON mqtt_acl (username)');
    await admin.query('CREATE INDEX ON mqtt_acl (clientid)');
    this.admin = admin;
  }
}

describeConnectorContracts('PostgresConnector', () => new PostgresTestDatabase());

describeSqlConnectorSpecifics('PostgresConnector', {
  database: () => new PostgresTestDatabase(),
  build: (config) => new PostgresConnector(config),
  countUsersSql: 'SELECT COUNT(*)::int AS n FROM mqtt_user',
  clientAndAddressAuthQuery: "SELECT password_hash, is_superuser FROM mqtt_user WHERE username = %u AND %c::text LIKE %u::text || '-%' AND %a::text <> '%a' LIMIT 1",
  sleepAuthQuery: 'SELECT pg_sleep(3)::text AS password_hash WHERE %u::text IS NOT NULL',
});
