/**
 * Authentication and ACL rules from a SQL database, for any driver behind
 * SqlClient. Both lookups run the configured queries with %u/%c/%a bound as
 * parameters, under the connector's time limit.
 */
import { AclRule, AclSource, AuthDecision, AuthRequest, Authenticator, ClientIdentity } from '../../auth/types';
import { aclRulesFromRows } from '../shared/aclRows';
import { describeError, withDeadline } from '../shared/deadline';
import { CompiledQuery, PlaceholderValues, bindValues, compileQuery } from '../shared/placeholders';
import { SqlSettings } from './sqlConfig';
import { SqlClient, SqlRow } from './SqlClient';
import { credentialFromRecord, decideLogin, ignoreWithoutUsername } from '../shared/storedCredential';

export class SqlConnector implements Authenticator, AclSource {
  readonly name: string;
  private readonly authQuery: CompiledQuery;
  private readonly aclQuery: CompiledQuery;

  constructor(
    private readonly client: SqlClient,
    private readonly settings: SqlSettings,
  ) {
    this.name = settings.name;
    const marker = (position: number) => client.marker(position);
    this.authQuery = compileQuery(settings.authQuery, marker);
    this.aclQuery = compileQuery(settings.aclQuery, marker);
  }

  async authenticate(request: AuthRequest): Promise<AuthDecision> {
    if (request.username === null) return ignoreWithoutUsername();
    const rows = await this.run('auth query', this.authQuery, { username: request.username, clientId: request.clientId, ip: request.ip });
    return decideLogin(rows.length > 0 ? credentialFromRecord(rows[0]) : null, request.password, this.settings.passwordScheme);
  }

  async rulesFor(client: ClientIdentity): Promise<AclRule[]> {
    const rows = await this.run('ACL query', this.aclQuery, { username: client.username, clientId: client.clientId, ip: client.ip });
    return aclRulesFromRows(rows, (row, why) => this.settings.logger.warn({ row, why }, 'ACL row skipped'));
  }

  /** Closes the pool. Never rejects: a connection that fails while closing is only worth a log line. */
  async close(): Promise<void> {
    try {
      await this.client.close();
    } catch (err) {
      this.settings.logger.warn({ err: describeError(err) }, 'closing the pool failed');
    }
  }

  private run(what: string, query: CompiledQuery, values: PlaceholderValues): Promise<SqlRow[]> {
    return withDeadline({ connector: this.name, timeoutMs: this.settings.timeoutMs, what }, () => this.client.query(query.text, bindValues(query, values)));
  }
}
