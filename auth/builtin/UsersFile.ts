/**
 * The users file: one `user:hash` per line, `#` comments — the format of
 * Mosquitto's password files, so those work as they are. `mqlog passwd`
 * maintains it.
 */
import { readFileSync, renameSync, writeFileSync } from 'fs';

export function readUsersFile(path: string): Map<string, string> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`cannot read users file '${path}': ${(err as Error).message}`);
  }
  const users = new Map<string, string>();
  text.split(/\r?\n/).forEach((line, i) => {
    const trimmed = line.trim();
    if (!trimmed || trimmed.startsWith('#')) return;
    const colon = trimmed.indexOf(':');
    if (colon <= 0) throw new Error(`users file '${path}' line ${i + 1}: expected user:hash`);
    users.set(trimmed.slice(0, colon), trimmed.slice(colon + 1));
  });
  return users;
}

export function writeUsersFile(path: string, users: ReadonlyMap<string, string>): void {
  for (const name of users.keys()) {
    if (!name || name.includes(':') || /[\r\n]/.test(name)) throw new Error(`invalid user name '${name}': it may not be empty or contain ':' or line breaks`);
  }
  const text = [...users].map(([u, h]) => `${u}:${h}`).join('\n') + '\n';
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, text, { mode: 0o600 });
  renameSync(tmp, path);
}
