// The brokers a run compares, by id. `usesKafka` ones need a running Kafka
// (env.kafka); each start gets fresh state: a new data dir, or a new Kafka
// stream prefix.
import { startAedes } from './aedes.mjs';
import { startMosquitto } from './mosquitto.mjs';
import { startMqlog } from './mqlog.mjs';

let prefixes = 0;
const kafkaOf = (env) => ({ bootstrap: env.kafka.bootstrap, streamPrefix: `bench-${env.runId}-${++prefixes}.` });

export const TARGETS = [
  { id: 'mqlog', label: 'mqlog (file log)', start: (env) => startMqlog({ ...env, kind: 'mqlog' }) },
  { id: 'aedes', label: 'Aedes', start: (env) => startAedes(env) },
  { id: 'mosquitto', label: 'Mosquitto', start: (env) => startMosquitto(env) },
  // The durability setting that survives a machine crash: each batch fdatasync'ed before its acknowledgements.
  { id: 'mqlog-fsync', label: 'mqlog (file log, fsync per batch)', start: (env) => startMqlog({ ...env, kind: 'mqlog-fsync', fsync: 'batch' }) },
  { id: 'mqlog-kafka-1', label: 'mqlog on Kafka, 1 node', usesKafka: true, start: (env) => startMqlog({ ...env, kind: 'mqlog-kafka-1', kafka: kafkaOf(env) }) },
  {
    id: 'mqlog-kafka-2',
    label: 'mqlog on Kafka, 2 nodes (publish on 1, subscribe on 2)',
    usesKafka: true,
    start: (env) => startMqlog({ ...env, kind: 'mqlog-kafka-2', nodes: 2, kafka: kafkaOf(env) }),
  },
];
