/**
 * Who may use the HTTP API: the admin of the configuration (`api.username` /
 * `api.password`), admin users added with `mqlog admin add` or the API (kept in
 * `<dataDir>/admins.json`, passwords hashed with PBKDF2-SHA512), and API keys
 * for scripts (bearer tokens, `<dataDir>/api-keys.json`, only their SHA-256 is
 * kept: a key is shown once, when created).
 *
 * The files are re-read when they change on disk, so `mqlog admin add` on a
 * running node takes effect at the next request. Both are written atomically
 * (temporary file, then rename) with mode 0600.
 */
import { createHash, randomBytes } from 'crypto';
import { existsSync, readFileSync, renameSync, statSync, writeFileSync } from 'fs';
import { join } from 'path';
import { constantTimeEqual, hashPassword, verifyPassword } from '../../auth/passwordHash';
import { BadRequest } from '../history/HistoryQuery';

export interface Actor {
  /** Admin user name, or `key:<name>`. */
  name: string;
  kind: 'admin' | 'key';
}

interface AdminRecord {
  name: string;
  hash: string;
  createdAt: number;
}

interface KeyRecord {
  name: string;
  sha256: string;
  createdAt: number;
}

/** Names of admins and keys: printable, no separators that break logs or the Basic header. */
const NAME = /^[A-Za-z0-9._@-]{1,64}$/;
export const MIN_PASSWORD_LENGTH = 8;
export const MAX_ADMINS = 100;
export const MAX_KEYS = 1000;
/** Successful logins remembered (sha256 of the header) so a dashboard's requests do not each hash a password. */
const LOGIN_CACHE_MS = 60_000;
const LOGIN_CACHE_MAX = 1000;

export function checkName(name: unknown, what: string): string {
  if (typeof name !== 'string' || !NAME.test(name)) throw new BadRequest(`${what} must be 1-64 characters of A-Z a-z 0-9 . _ @ -`);
  return name;
}

export function checkPassword(password: unknown): string {
  if (typeof password !== 'string' || password.length < MIN_PASSWORD_LENGTH || password.length > 1024) {
    throw new BadRequest(`password must be ${MIN_PASSWORD_LENGTH} to 1024 characters`);
  }
  return password;
}

/** A JSON array file re-read when its modification time changes; a damaged file is refused loudly, never half-used. */
class JsonListFile<T> {
  private cached: T[] = [];
  private mtimeMs = -1;

  constructor(
    readonly path: string,
    private readonly valid: (v: unknown) => v is T,
  ) {}

  read(): T[] {
    if (!existsSync(this.path)) {
      this.cached = [];
      this.mtimeMs = -1;
      return this.cached;
    }
    const m = statSync(this.path).mtimeMs;
    if (m === this.mtimeMs) return this.cached;
    const parsed: unknown = JSON.parse(readFileSync(this.path, 'utf8'));
    if (!Array.isArray(parsed) || !parsed.every(this.valid)) throw new Error(`${this.path} is not a list of valid entries`);
    this.cached = parsed;
    this.mtimeMs = m;
    return this.cached;
  }

  write(list: T[]): void {
    const tmp = `${this.path}.tmp`;
    writeFileSync(tmp, JSON.stringify(list, null, 2), { mode: 0o600 });
    renameSync(tmp, this.path);
    this.cached = list;
    this.mtimeMs = statSync(this.path).mtimeMs;
  }
}

const isAdmin = (v: unknown): v is AdminRecord =>
  typeof v === 'object' && v !== null && typeof (v as AdminRecord).name === 'string' && typeof (v as AdminRecord).hash === 'string' && typeof (v as AdminRecord).createdAt === 'number';
const isKey = (v: unknown): v is KeyRecord =>
  typeof v === 'object' && v !== null && typeof (v as KeyRecord).name === 'string' && /^[0-9a-f]{64}$/.test((v as KeyRecord).sha256) && typeof (v as KeyRecord).createdAt === 'number';

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

export class ApiAccess {
  private readonly admins: JsonListFile<AdminRecord>;
  private readonly keys: JsonListFile<KeyRecord>;
  private readonly logins = new Map<string, { actor: Actor; until: number }>();

  constructor(
    dataDir: string,
    private readonly configAdmin: { username: string; password: string },
    /** The password every install shares: a login with it must change it first. */
    private readonly defaultPassword: string,
  ) {
    this.admins = new JsonListFile(join(dataDir, 'admins.json'), isAdmin);
    this.keys = new JsonListFile(join(dataDir, 'api-keys.json'), isKey);
  }

  /** The actor an Authorization header names, or null. */
  async authenticate(header: string | undefined): Promise<Actor | null> {
    if (!header) return null;
    const now = Date.now();
    const cacheKey = sha256(header);
    const hit = this.logins.get(cacheKey);
    if (hit && hit.until > now) return hit.actor;
    const actor = await this.check(header);
    if (actor) {
      if (this.logins.size >= LOGIN_CACHE_MAX) this.logins.clear();
      this.logins.set(cacheKey, { actor, until: now + LOGIN_CACHE_MS });
    }
    return actor;
  }

  /** True while `name` logs in with the configuration's default password (the dashboard then asks for a new one). */
  usesDefaultPassword(name: string): boolean {
    return name === this.configAdmin.username && !this.stored(name) && this.configAdmin.password === this.defaultPassword;
  }

  listAdmins(): Array<{ name: string; createdAt: number | null; source: 'config' | 'file' }> {
    const out: Array<{ name: string; createdAt: number | null; source: 'config' | 'file' }> = [];
    if (!this.stored(this.configAdmin.username)) out.push({ name: this.configAdmin.username, createdAt: null, source: 'config' });
    for (const a of this.admins.read()) out.push({ name: a.name, createdAt: a.createdAt, source: 'file' });
    return out;
  }

  /** Adds an admin, or sets the password of an existing one (the config's admin included: the stored one then wins). */
  setAdmin(name: string, password: string): 'added' | 'changed' {
    checkName(name, 'admin name');
    checkPassword(password);
    if (password === this.defaultPassword) throw new BadRequest('choose another password than the default one');
    const list = this.admins.read().filter((a) => a.name !== name);
    const existed = list.length < this.admins.read().length || name === this.configAdmin.username;
    if (!existed && list.length >= MAX_ADMINS) throw new BadRequest(`at most ${MAX_ADMINS} admin users`);
    list.push({ name, hash: hashPassword(password), createdAt: Date.now() });
    this.admins.write(list);
    this.logins.clear();
    return existed ? 'changed' : 'added';
  }

  removeAdmin(name: string): boolean {
    const list = this.admins.read();
    const kept = list.filter((a) => a.name !== name);
    if (kept.length === list.length) return false;
    if (kept.length === 0 && name === this.configAdmin.username) throw new BadRequest('cannot remove the last admin');
    this.admins.write(kept);
    this.logins.clear();
    return true;
  }

  listKeys(): Array<{ name: string; createdAt: number }> {
    return this.keys.read().map((k) => ({ name: k.name, createdAt: k.createdAt }));
  }

  /** Creates a key; the token is returned here and never again. */
  createKey(name: string): { name: string; token: string } {
    checkName(name, 'key name');
    const list = this.keys.read();
    if (list.some((k) => k.name === name)) throw new BadRequest(`an API key named '${name}' exists`);
    if (list.length >= MAX_KEYS) throw new BadRequest(`at most ${MAX_KEYS} API keys`);
    const token = `mqlog_${randomBytes(24).toString('base64url')}`;
    this.keys.write([...list, { name, sha256: sha256(token), createdAt: Date.now() }]);
    return { name, token };
  }

  removeKey(name: string): boolean {
    const list = this.keys.read();
    const kept = list.filter((k) => k.name !== name);
    if (kept.length === list.length) return false;
    this.keys.write(kept);
    this.logins.clear();
    return true;
  }

  private stored(name: string): AdminRecord | undefined {
    return this.admins.read().find((a) => a.name === name);
  }

  private async check(header: string): Promise<Actor | null> {
    if (header.startsWith('Bearer ')) {
      const given = Buffer.from(sha256(header.slice(7).trim()));
      const key = this.keys.read().find((k) => constantTimeEqual(Buffer.from(k.sha256), given));
      return key ? { name: `key:${key.name}`, kind: 'key' } : null;
    }
    if (!header.startsWith('Basic ')) return null;
    const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return null;
    const name = decoded.slice(0, colon);
    const password = decoded.slice(colon + 1);
    const stored = this.stored(name);
    if (stored) return (await verifyPassword(stored.hash, password)) ? { name, kind: 'admin' } : null;
    if (name !== this.configAdmin.username) return null;
    return constantTimeEqual(Buffer.from(password), Buffer.from(this.configAdmin.password)) ? { name, kind: 'admin' } : null;
  }
}
