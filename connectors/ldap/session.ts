/**
 * One connection to the directory for one login: ldap://, ldaps:// or
 * ldap:// upgraded with StartTLS. A connection per login (no pool) because a
 * bind changes who the connection is: sharing one between users' logins would
 * need a rebind for every use anyway, and a fresh connection can never carry a
 * previous user's identity.
 */
import { Client, Entry, SASL_MECHANISMS } from 'ldapts';
import { ConnectionOptions } from 'tls';
import { ResolvedLdapConfig } from './config';

/** How long closing may wait for the unbind to be written before the socket is simply destroyed. */
const CLOSE_GRACE_MS = 1000;

export class LdapSession {
  private readonly client: Client;
  private closing: Promise<void> | null = null;
  /** Who the connection is bound as; null: anonymous (also after a failed bind, RFC 4511 section 4.2.1). */
  boundAs: string | null = null;

  constructor(private readonly cfg: ResolvedLdapConfig) {
    this.client = new Client({
      url: cfg.url,
      timeout: cfg.timeoutMs,
      connectTimeout: cfg.timeoutMs,
      // ldapts treats any tlsOptions as "connect with TLS": give them only to ldaps://.
      tlsOptions: cfg.secure ? this.tlsOptions() : undefined,
    });
  }

  private tlsOptions(): ConnectionOptions {
    const t = this.cfg.tls;
    const options: ConnectionOptions = { rejectUnauthorized: t.rejectUnauthorized, host: t.host, minVersion: 'TLSv1.2' };
    if (t.ca !== undefined) options.ca = t.ca;
    if (t.servername !== undefined) options.servername = t.servername;
    return options;
  }

  /** Connects; with startTls, upgrades before anything else is sent (RFC 4513 section 3). */
  async open(): Promise<void> {
    if (this.cfg.startTls) await this.client.startTLS(this.tlsOptions());
  }

  /**
   * A simple bind (RFC 4511 section 4.2). The caller never passes an empty
   * password: that would be an unauthenticated bind, which "succeeds" on
   * servers that allow it (RFC 4513 section 5.1.2).
   */
  async bind(dn: string, password: string): Promise<void> {
    if (password === '') throw new Error('refusing an unauthenticated bind (empty password)');
    // ldapts reads a DN equal to a SASL mechanism name as a SASL bind.
    if ((SASL_MECHANISMS as readonly string[]).includes(dn)) throw new Error('refusing a DN that ldapts would take for a SASL mechanism');
    this.boundAs = null;
    await this.client.bind(dn, password);
    this.boundAs = dn;
  }

  async search(base: string, scope: 'base' | 'one' | 'sub', filter: string, attributes: string[], sizeLimit: number): Promise<Entry[]> {
    const { searchEntries } = await this.client.search(base, {
      scope,
      filter,
      attributes,
      sizeLimit,
      // The server-side limit, in whole seconds (RFC 4511 section 4.5.1.5); the client enforces the exact budget.
      timeLimit: Math.max(1, Math.ceil(this.cfg.timeoutMs / 1000)),
    });
    return searchEntries;
  }

  /** Unbinds (RFC 4511 section 4.3) and closes; never rejects, never waits long. */
  close(): Promise<void> {
    if (!this.closing) {
      this.closing = new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, CLOSE_GRACE_MS);
        this.client
          .unbind()
          .catch(() => undefined)
          .finally(() => {
            clearTimeout(timer);
            resolve();
          });
      });
    }
    return this.closing;
  }
}
