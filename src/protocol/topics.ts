/**
 * Topic names and topic filters (MQTT 3.1.1 section 4.7). Validation returns a
 * reason string (or null when valid) so callers can log exactly what was wrong.
 */

/** Why a topic name may not be published to, or null if it may [MQTT-4.7.3-1, MQTT-3.3.2-2, MQTT-4.7.3-2]. */
export function topicNameError(topic: string): string | null {
  if (topic.length === 0) return 'empty topic name [MQTT-4.7.3-1]';
  // From the wire a topic is well-formed UTF-8 (the decoder checks); from the API a JSON string may hold a lone surrogate.
  if (!topic.isWellFormed()) return 'topic name is not well-formed Unicode (a lone surrogate) [MQTT-1.5.3-1]';
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
  if (!filter.isWellFormed()) return 'topic filter is not well-formed Unicode (a lone surrogate) [MQTT-1.5.3-1]';
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

/** Limits on topic names and filters beyond the spec's own (EMQX's max_topic_levels, max_topic_length). */
export interface TopicLimits {
  /** Longest topic name or filter, in UTF-8 bytes (the wire allows 65,535). */
  maxTopicLength: number;
  /** Most levels ("/"-separated parts) in a topic name or filter. */
  maxTopicLevels: number;
}

/** A topic past the configured limits: which limit, and how. */
export interface TopicLimitExceeded {
  limit: 'mqtt.maxTopicLength' | 'mqtt.maxTopicLevels';
  detail: string;
}

/**
 * How a topic name or filter exceeds the configured limits, or null. Checked at
 * the edge (PUBLISH, will, SUBSCRIBE, UNSUBSCRIBE) so no deeper code (the topic
 * trie, the log, history) ever holds a topic of unbounded depth.
 */
export function topicLimitError(topic: string, limits: TopicLimits): TopicLimitExceeded | null {
  const units = topic.length;
  // UTF-8 takes at least one byte per UTF-16 unit and at most three.
  if (units > limits.maxTopicLength || (units * 3 > limits.maxTopicLength && Buffer.byteLength(topic, 'utf8') > limits.maxTopicLength)) {
    return { limit: 'mqtt.maxTopicLength', detail: `topic of ${Buffer.byteLength(topic, 'utf8')} bytes exceeds mqtt.maxTopicLength (${limits.maxTopicLength})` };
  }
  let levels = 1;
  for (let i = 0; i < units; i++) if (topic.charCodeAt(i) === 0x2f /* / */ && ++levels > limits.maxTopicLevels) break;
  if (levels > limits.maxTopicLevels) return { limit: 'mqtt.maxTopicLevels', detail: `topic has more than mqtt.maxTopicLevels (${limits.maxTopicLevels}) levels` };
  return null;
}

/** Topics only the broker publishes to: `$SYS` and everything under it. */
export function isBrokerOwnedTopic(topic: string): boolean {
  return topic.charCodeAt(0) === 0x24 /* $ */ && (topic === '$SYS' || topic.startsWith('$SYS/'));
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
