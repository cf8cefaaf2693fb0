/**
 * Group names from group DNs: "cn=ops\, east,ou=groups,dc=example,dc=com" is
 * the group "ops, east". ACL rules name groups this way, whichever attribute
 * type the directory uses in the group's RDN.
 */

/**
 * The value of the first attribute of the first RDN, unescaped per RFC 4514
 * section 3 ("\\" + special character, or "\\" + two hex digits, consecutive
 * ones forming UTF-8). Null when the DN does not start with "type=value".
 */
export function firstRdnValue(dn: string): string | null {
  const eq = dn.indexOf('=');
  if (eq <= 0) return null;
  const bytes: number[] = [];
  for (let i = eq + 1; i < dn.length; i++) {
    const ch = dn[i];
    if (ch === ',' || ch === '+' || ch === ';') break; // end of the RDN (';' is the old RFC 1779 separator)
    if (ch === '\\') {
      const hex = dn.slice(i + 1, i + 3);
      if (/^[0-9a-fA-F]{2}$/.test(hex)) {
        bytes.push(parseInt(hex, 16));
        i += 2;
      } else if (i + 1 < dn.length) {
        bytes.push(...Buffer.from(dn[i + 1], 'utf8'));
        i += 1;
      }
      continue;
    }
    // Characters outside the BMP are two UTF-16 units: encode them together.
    const cp = dn.codePointAt(i) ?? 0;
    const s = String.fromCodePoint(cp);
    bytes.push(...Buffer.from(s, 'utf8'));
    i += s.length - 1;
  }
  const value = Buffer.from(bytes).toString('utf8');
  return value === '' ? null : value;
}
