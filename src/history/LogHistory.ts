/**
 * History answered from the log itself (the embedded default, or Kafka without
 * an archive): the time index finds where the range starts in each partition,
 * then the partitions are read in publish-time order and filtered here.
 */
import { MessagePublished } from '../events/types';
import { EventLog } from '../log/EventLog';
import { topicMatches } from '../protocol/topics';
import { HistoryMessage, historyMessage, HistoryPage, pageOf, utf8OrNull } from './HistoryMessage';
import { HistoryQuery, textTerms } from './HistoryQuery';
import { HistorySource } from './HistorySource';
import { rangeForTimes, scanMessages } from './MessageScan';

export class LogHistory implements HistorySource {
  readonly name = 'log' as const;

  constructor(
    private readonly log: EventLog,
    private readonly messagesStream: string,
  ) {}

  async query(q: HistoryQuery): Promise<HistoryPage> {
    const from = q.after ? Math.max(q.after.timestamp, q.from ?? 0) : q.from;
    const range = await rangeForTimes(this.log, this.messagesStream, from, q.to);
    const terms = q.text === null ? null : textTerms(q.text);
    const found: HistoryMessage[] = [];
    await scanMessages(
      this.log,
      this.messagesStream,
      range,
      { topic: (t) => q.topic === null || topicMatches(q.topic, t), from: q.from, to: q.to, after: q.after },
      ({ event, partition, offset }) => {
        if (!matches(q, terms, event)) return true;
        found.push(historyMessage(event, partition, offset));
        return found.length <= q.limit; // one more than asked tells whether a next page exists
      },
    );
    return pageOf(found, q.limit);
  }
}

function matches(q: HistoryQuery, terms: string[] | null, e: MessagePublished): boolean {
  if (q.clientId !== null && e.publisherId !== q.clientId) return false;
  if (q.username !== null && e.username !== q.username) return false;
  if (terms) {
    const text = utf8OrNull(e.payload);
    if (text === null) return false;
    const words = new Set(textTerms(text));
    if (!terms.every((t) => words.has(t))) return false;
  }
  return true;
}
