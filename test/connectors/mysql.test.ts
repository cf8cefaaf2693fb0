/**
 * The MySQL/MariaDB connector against the real MariaDB (started when down):
 * the shared authenticator and ACL source contracts, then what is particular to
 * SQL back ends — injection attempts, exact user name matching, the hash
 * formats, placeholders, invalid rows, timeouts and recovery.
 */
import { Connection, createConnection } from 'mysql2/promise';
import { MySqlConnector, MySqlConnectorConfig } from '../../connectors/sql';
import { ensureMariaDb, SqlServiceSettings } from '../helpers/services';
import { describeConnectorContracts } from './connectorBackend';
import { describeSqlConnectorSpecifics, SqlTestDatabase } from './sqlConnectorSpecifics';

class MySqlTestDatabase extends SqlTestDatabase<MySqlConnectorConfig> {
  readonly type = 'mysql';
  private admin: Connection | null = null;

  constructor() {
    super('mqlog_mysql');
  }

  async sql(text: string, params: unknown[] = []): Promise<unknown> {
    await this.open();
    const [result] = await this.admin!.query(text, params);
    return result;
  }

  protected placeholder(): string {
    return '?';
  }

  protected flag(value: boolean): number {
    return value ? 1 : 0;
  }

  protected ensureService(): Promise<SqlServiceSettings> {
    return ensureMariaDb();
  }

  protected build(config: MySqlConnectorConfig): MySqlConnector {
    return new MySqlConnector(config);
  }

  protected override closeConnector(connector: MySqlConnector): Promise<void> {
    return connector.close().catch(() => undefined);
  }

  protected async dropStore(): Promise<void> {
    if (this.admin) {
      await this.admin.query(`DROP DATABASE IF EXISTS \`${this.name}\``);
      await this.admin.end();
      this.admin = null;
    }
  }

  protected async open(): Promise<void> {
    if (this.admin) return;
    const s = await this.serviceSettings();
    const admin = await createConnection({ host: s.host, port: s.port, user: s.user, password: s.password, database: s.database, charset: 'utf8mb4' });
    // NO PAD binary collation: "ALICE" and "alice " are other users than "alice" (see docs/connectors.md).
    await admin.query(`CREATE DATABASE \`${this.name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin`);
    await admin.query(`USE \`${this.name}\``);
    await admin.query(`CREATE TABLE mqtt_user (
      id INT AUTO_INCREMENT PRIMARY KEY,
      username VARCHAR(100) NOT NULL UNIQUE,
      password_hash VARCHAR(255),
      salt VARCHAR(64),
      is_superuser TINYINT(1) NOT NULL DEFAULT 0)`);
    await admin.query(`CREATE TABLE mqtt_acl (
      id INT AUTO_INCREMENT PRIMARY KEY,
      username VARCHAR(100) NULL,
      clientid VARCHAR(100) NULL,
      permission VARCHAR(10) NOT NULL,
      action VARCHAR(10) NOT NULL,
      topic VARCHAR(255) NOT NULL,
      INDEX (username), INDEX (clientid))`);
    this.admin = admin;
  }
}

describeConnectorContracts('MySqlConnector (MariaDB)', () => new MySqlTestDatabase());

describeSqlConnectorSpecifics('MySqlConnector (MariaDB)', {
  database: () => new MySqlTestDatabase(),
  build: (config) => new MySqlConnector(config),
  countUsersSql: 'SELECT COUNT(*) AS n FROM mqtt_user',
  clientAndAddressAuthQuery: "SELECT password_hash, is_superuser FROM mqtt_user WHERE username = %u AND %c LIKE CONCAT(%u, '-%') AND %a <> '%a' LIMIT 1",
  sleepAuthQuery: 'SELECT SLEEP(3) AS password_hash FROM DUAL WHERE %u IS NOT NULL',
});
