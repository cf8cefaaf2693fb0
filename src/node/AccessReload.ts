/** SIGHUP: re-read users and rules files, then compile every connected client's rules again. */
import { AccessControl } from '../../auth/AccessControl';
import { Logger } from '../logger';
import { ConnectionRegistry } from './ConnectionRegistry';

export async function reloadAccess(access: AccessControl, registry: ConnectionRegistry, log: Logger): Promise<void> {
  access.reload();
  for (const conn of registry) {
    const ch = conn.channel;
    if (ch.state !== 'connected' || !ch.identity) continue;
    try {
      ch.rulesReloaded(await access.acl.compile(ch.identity));
    } catch (err) {
      // A client whose rules cannot be compiled now keeps the old ones rather than losing all access mid-session.
      log.warn({ clientId: ch.clientId, err: (err as Error).message }, 'could not reload the access rules of a client; keeping the old ones');
    }
  }
  log.info({ connections: registry.size }, 'access rules reloaded');
}
