/**
 * Topic names and topic filters (MQTT 3.1.1 section 4.7). Validation returns a
 * reason string (or null when valid) so callers can log exactly what was wrong.
 */

/** Why a topic name may not be published to, or null if it may [MQTT-4.7.3-1, MQTT-3.3.2-2, MQTT-4.7.3-2]. */
export function topicNameError(topic: string): string | null {
  if (topic.length === 0) return 'empty topic name [MQTT-4.7.3-1]';
  for (let i = 0; i < topic.length; i++) {
    const c = topic.charCodeAt(i);
    if (c === 0x2b /* + */ || c === 0x23 /* # */) return `wildcard in topic name "${topic}" [MQTT-3.3.2-2]`;
    if (c === 0) return 'U+0000 in topic name [MQTT-4.7.3-2]';
  }
  return null;
}

/** Why a topic filter is invalid, or null [MQTT-4.7.1-1..3, MQTT-4.7.3-1..2]. */
export function topicFilterError(filter: string): string | null {
  if (filter.length === 0) return 'empty topic filter [MQTT-4.7.3-1]';
  const levels = filter.split('/');
  for (let i = 0; i < levels.length; i++) {
    const level = levels[i];
    if (level.includes('\u0000')) return 'U+0000 in topic filter [MQTT-4.7.3-2]';
    if (level.includes('#') && (level !== '#' || i !== levels.length - 1)) {
      return `"#" must be a whole last level in "${filter}" [MQTT-4.7.1-2]`;
    }
    if (level.includes('+') && level !== '+') return `"+" must be a whole level in "${filter}" [MQTT-4.7.1-3]`;
  }
  return null;
}

export function isWildcardFilter(filter: string): boolean {
  return filter.includes('+') || filter.includes('#');
}

/**
 * Whether `filter` matches `topic`. A filter starting with a wildcard does not
 * match a topic starting with "$" [MQTT-4.7.2-1].
 */
export function topicMatches(filter: string, topic: string): boolean {
  if (topic.charCodeAt(0) === 0x24 /* $ */ && (filter[0] === '+' || filter[0] === '#')) return false;
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true; // also matches the parent level [MQTT-4.7.1-2]
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}
