export { Archiver } from './Archiver';
export type { ArchiverStatus } from './Archiver';
export { ElasticsearchHistory } from './ElasticsearchHistory';
export { elasticsearchClient } from './ElasticsearchSettings';
export type { ElasticsearchSettings } from './ElasticsearchSettings';
