/**
 * The `%u` (user name), `%c` (client id) and `%a` (IP address) placeholders of
 * a configured SQL query, turned into the driver's own parameter markers (`?`
 * for MySQL, `$1…` for PostgreSQL) once, when the connector is built. Values are
 * always bound as parameters, never spliced into the text, so a user name like
 * `' OR 1=1 --` is just a user name nobody has.
 */

export type PlaceholderName = 'username' | 'clientId' | 'ip';

const NAMES: Readonly<Record<string, PlaceholderName>> = { u: 'username', c: 'clientId', a: 'ip' };

export interface PlaceholderValues {
  /** Null for clients without a user name: binds SQL NULL, which equals nothing. */
  username: string | null;
  clientId: string;
  ip: string;
}

export interface CompiledQuery {
  /** The query text with the driver's parameter markers. */
  text: string;
  /** Which value each marker takes, in order. */
  params: readonly PlaceholderName[];
}

// Quoted literals and identifiers are matched (and kept as they are) so a "%u" inside quotes stays text.
const TOKENS = /'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|`[^`]*`|%([uca])/gs;

/** `marker(n)` is the driver's marker for the n-th parameter (1-based). */
export function compileQuery(query: string, marker: (position: number) => string): CompiledQuery {
  const params: PlaceholderName[] = [];
  const text = query.replace(TOKENS, (token: string, letter: string | undefined) => {
    if (letter === undefined) return token;
    params.push(NAMES[letter]);
    return marker(params.length);
  });
  return { text, params };
}

/** The values to bind for one call. */
export function bindValues(query: CompiledQuery, values: PlaceholderValues): (string | null)[] {
  return query.params.map((name) => values[name]);
}
