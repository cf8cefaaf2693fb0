/**
 * Escaping of untrusted values (the MQTT user name, a DN read back from the
 * directory) before they are placed into a DN or a search filter, so that a
 * user name such as "*)(uid=*" or "alice,ou=admins" stays one literal value.
 */

/**
 * An attribute value for a DN string, RFC 4514 section 2.4: a backslash before
 * '"', '+', ',', ';', '<', '>', '\\', a leading '#' or space and a trailing
 * space; NUL as "\00". '=' is escaped too (allowed by section 2.4, and some
 * servers' parsers prefer it).
 */
export function escapeDnValue(value: string): string {
  let out = '';
  for (let i = 0; i < value.length; i++) {
    const ch = value[i];
    if (ch === '\0') out += '\\00';
    else if ('"+,;<>\\='.includes(ch)) out += `\\${ch}`;
    else if (i === 0 && (ch === '#' || ch === ' ')) out += `\\${ch}`;
    else if (i === value.length - 1 && ch === ' ') out += '\\ ';
    else out += ch;
  }
  return out;
}

/**
 * An assertion value for a filter string, RFC 4515 section 3: '*', '(', ')',
 * '\\' and NUL as a backslash and two hex digits. Other characters, UTF-8
 * included, are valid as they are.
 */
export function escapeFilterValue(value: string): string {
  return value.replace(/[*()\\\0]/g, (ch) => `\\${ch.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/**
 * Replaces each %<key> in a template with its value, escaped by `escape`. One
 * pass over the template: a value containing "%u" is never expanded again.
 */
export function fillTemplate(template: string, values: Record<string, string>, escape: (v: string) => string): string {
  return template.replace(/%(\w)/g, (whole, key: string) => (key in values ? escape(values[key]) : whole));
}
