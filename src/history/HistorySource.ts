import { HistoryPage } from './HistoryMessage';
import { HistoryQuery } from './HistoryQuery';

/** Where message history is read from: the log itself, or the Elasticsearch archive. */
export interface HistorySource {
  readonly name: 'log' | 'elasticsearch';
  query(q: HistoryQuery): Promise<HistoryPage>;
}
