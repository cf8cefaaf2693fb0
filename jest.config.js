/**
 * Three tiers, all run by `npm test`:
 *   unit      no sockets, no processes: the channel, sessions, the delivery core, codecs, folds (seconds)
 *   broker    real brokers on ephemeral ports, real sockets and clients, child processes; no outside service
 *   services  against real Kafka, Elasticsearch, LDAP, MySQL, PostgreSQL, Redis (started on demand)
 * One tier: `npm test -- --selectProjects unit`.
 *
 * @type {import('jest').Config}
 */
const transform = { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] };
const project = (displayName, testMatch, testPathIgnorePatterns = []) => ({
  displayName,
  testEnvironment: 'node',
  rootDir: __dirname,
  roots: ['<rootDir>/test'],
  testMatch,
  testPathIgnorePatterns,
  transform,
});

/** Suites that need an outside service (Kafka, Elasticsearch, LDAP, the databases). */
const SERVICES = [
  '<rootDir>/test/connectors/**/*.test.ts',
  '<rootDir>/test/cluster/**/*.test.ts',
  '<rootDir>/test/kafka/**/*.test.ts',
  '<rootDir>/test/elasticsearch/**/*.test.ts',
  '<rootDir>/test/contract/kafka*.test.ts',
  '<rootDir>/test/history/kafkaHistory.test.ts',
  '<rootDir>/test/history/elasticsearchHistory.test.ts',
  '<rootDir>/test/replay/replayKafka.test.ts',
];

module.exports = {
  projects: [
    project('unit', ['<rootDir>/test/unit/**/*.test.ts', '<rootDir>/test/property/**/*.test.ts']),
    project(
      'broker',
      ['<rootDir>/test/**/*.test.ts'],
      ['/test/unit/', '/test/property/', '/test/connectors/', '/test/cluster/', '/test/kafka/', '/test/elasticsearch/', '/test/contract/kafka', 'kafkaHistory', 'elasticsearchHistory', 'replayKafka'],
    ),
    project('services', SERVICES),
  ],
  testTimeout: 30000,
  globalSetup: '<rootDir>/test/setup/globalSetup.js',
  globalTeardown: '<rootDir>/test/setup/globalTeardown.js',
  // Network tests open real sockets; run files in parallel but keep it bounded on 2-core machines.
  maxWorkers: 2,
};
