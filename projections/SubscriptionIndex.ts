/**
 * The subscription index: every session's subscriptions in one topic trie (with
 * "+" and "#"; filters starting with a wildcard do not match "$" topics), folded
 * from the session stream. It answers "who, anywhere, subscribes to this topic"
 * and counts subscriptions; the cluster's route table is built from it.
 *
 * `foldSubscriptions(state, event)` follows the same session lifetime rules as
 * the session projection, keeping what it needs of them (each client's clean
 * flag and connection) in its own state, so it stays a fold over events alone.
 */
import { QoS, SessionEvent, SUBACK_FAILURE } from '../src/events/types';
import { TopicTrie } from '../src/router/TopicTrie';
import { connectRefused } from './sessionOwnership';

interface ClientEntry {
  connectionId: string;
  cleanSession: boolean;
  /** The user name the session belongs to (projections/sessionOwnership.ts). */
  owner: string | null;
  /** None, one (as a plain string: most clients have one, and a Set costs a hash table), or a Set of several. */
  filters: string | Set<string> | null;
}

export interface SubscriptionIndexState {
  trie: TopicTrie<QoS>;
  clients: Map<string, ClientEntry>;
}

export function emptySubscriptionIndex(): SubscriptionIndexState {
  return { trie: new TopicTrie<QoS>(), clients: new Map() };
}

function dropClient(state: SubscriptionIndexState, clientId: string): void {
  const entry = state.clients.get(clientId);
  if (!entry) return;
  const filters = entry.filters;
  if (typeof filters === 'string') state.trie.remove(filters, clientId);
  else if (filters !== null) for (const f of filters) state.trie.remove(f, clientId);
  state.clients.delete(clientId);
}

function addFilter(entry: ClientEntry, filter: string): void {
  const filters = entry.filters;
  if (filters === null) entry.filters = filter;
  else if (typeof filters !== 'string') filters.add(filter);
  else if (filters !== filter) entry.filters = new Set([filters, filter]);
}

function removeFilter(entry: ClientEntry, filter: string): void {
  const filters = entry.filters;
  if (filters === filter) entry.filters = null;
  else if (filters !== null && typeof filters !== 'string') filters.delete(filter);
}

export function foldSubscriptions(state: SubscriptionIndexState, event: SessionEvent): SubscriptionIndexState {
  switch (event.type) {
    case 'client.connected': {
      const prev = state.clients.get(event.clientId);
      if (prev !== undefined && connectRefused(prev.owner, event)) return state;
      const resume = prev !== undefined && !prev.cleanSession && !event.cleanSession;
      if (!resume) dropClient(state, event.clientId);
      const filters = resume ? prev.filters : null;
      state.clients.set(event.clientId, { connectionId: event.connectionId, cleanSession: event.cleanSession, owner: event.username, filters });
      return state;
    }
    case 'client.disconnected': {
      const entry = state.clients.get(event.clientId);
      if (entry && entry.connectionId === event.connectionId && entry.cleanSession) dropClient(state, event.clientId);
      return state;
    }
    case 'session.expired': {
      const entry = state.clients.get(event.clientId);
      if (entry && entry.connectionId === event.connectionId) dropClient(state, event.clientId);
      return state;
    }
    case 'client.subscribed': {
      const entry = state.clients.get(event.clientId);
      if (!entry) return state;
      for (const s of event.subscriptions) {
        if (s.granted === SUBACK_FAILURE) continue;
        state.trie.add(s.filter, event.clientId, s.granted);
        addFilter(entry, s.filter);
      }
      return state;
    }
    case 'client.unsubscribed': {
      const entry = state.clients.get(event.clientId);
      if (!entry) return state;
      for (const f of event.filters) {
        state.trie.remove(f, event.clientId);
        removeFilter(entry, f);
      }
      return state;
    }
    default:
      return state;
  }
}

/** Each subscriber of `topic` once, at the highest QoS of its matching filters. */
export function subscribersOf(state: SubscriptionIndexState, topic: string): Map<string, QoS> {
  const out = new Map<string, QoS>();
  state.trie.match(topic, (clientId, qos) => {
    const prev = out.get(clientId);
    if (prev === undefined || qos > prev) out.set(clientId, qos);
  });
  return out;
}

/** Seeds the index with sessions restored from a snapshot (the index itself is never snapshotted). */
export function indexSession(
  state: SubscriptionIndexState,
  session: { clientId: string; connectionId: string; cleanSession: boolean; username: string | null; subscriptions: ReadonlyMap<string, { qos: QoS }> },
): void {
  dropClient(state, session.clientId);
  const entry: ClientEntry = { connectionId: session.connectionId, cleanSession: session.cleanSession, owner: session.username, filters: null };
  for (const [filter, sub] of session.subscriptions) {
    state.trie.add(filter, session.clientId, sub.qos);
    addFilter(entry, filter);
  }
  state.clients.set(session.clientId, entry);
}
