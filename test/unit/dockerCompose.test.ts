/**
 * Docker cannot run on these machines, so the compose file is validated
 * instead: every service, image/build, dependency, volume, port and mqlog
 * setting it references must exist and agree.
 */
import { existsSync, readFileSync } from 'fs';
import { join } from 'path';
import { parse } from 'yaml';
import { loadConfig } from '../../src/config';

const dockerDir = join(__dirname, '..', '..', 'docker');

interface Service {
  image?: string;
  build?: { context: string; dockerfile: string };
  environment?: Record<string, string>;
  depends_on?: string[];
  volumes?: string[];
  ports?: string[];
  hostname?: string;
  command?: string[];
}

const compose = parse(readFileSync(join(dockerDir, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
  services: Record<string, Service>;
  volumes: Record<string, unknown>;
};
const services = compose.services;
const names = Object.keys(services);

test('the cluster has three Kafka brokers, Elasticsearch, three mqlog nodes and a TCP load balancer', () => {
  expect(names.filter((n) => n.startsWith('kafka-'))).toHaveLength(3);
  expect(names).toContain('elasticsearch');
  expect(names.filter((n) => n.startsWith('mqlog-'))).toHaveLength(3);
  expect(names).toContain('lb');
  expect(services.archiver.command).toEqual(['archiver']);
});

test('every service has an image or a build whose Dockerfile exists', () => {
  for (const [name, s] of Object.entries(services)) {
    expect([name, Boolean(s.image) !== Boolean(s.build)]).toEqual([name, true]);
    if (s.build) {
      const context = join(dockerDir, s.build.context);
      expect(existsSync(join(context, s.build.dockerfile))).toBe(true);
      // Everything the Dockerfile copies exists in the build context.
      const dockerfile = readFileSync(join(context, s.build.dockerfile), 'utf8');
      for (const m of dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)) {
        for (const src of m[1].split(/\s+/)) expect([src, existsSync(join(context, src))]).toEqual([src, true]);
      }
    }
  }
});

test('dependencies and named volumes refer to things that are declared', () => {
  for (const [name, s] of Object.entries(services)) {
    for (const dep of s.depends_on ?? []) expect([name, dep, names.includes(dep)]).toEqual([name, dep, true]);
    for (const v of s.volumes ?? []) {
      const source = v.split(':')[0];
      if (source.startsWith('.')) expect(existsSync(join(dockerDir, source))).toBe(true);
      else expect([name, source, source in compose.volumes]).toEqual([name, source, true]);
    }
  }
});

test('published ports are unique and the load balancer forwards to the mqlog listeners and API', () => {
  const published = Object.values(services).flatMap((s) => (s.ports ?? []).map((p) => p.split(':')[0]));
  expect(new Set(published).size).toBe(published.length);
  const haproxy = readFileSync(join(dockerDir, 'haproxy.cfg'), 'utf8');
  const servers = [...haproxy.matchAll(/^\s*server (\S+) (\S+):(\d+)/gm)].map((m) => ({ host: m[2], port: Number(m[3]) }));
  expect(servers.length).toBe(9);
  for (const srv of servers) {
    expect(names).toContain(srv.host);
    const config = loadConfig({ env: services[srv.host].environment });
    const listening = [config.listeners.tcp, config.listeners.ws, config.api].filter((l) => l.enabled).map((l) => l.port);
    expect([srv.host, listening.includes(srv.port)]).toEqual([srv.host, true]);
  }
});

test('every mqlog node is a valid Kafka-backed configuration with its own node id', () => {
  const kafkaHosts = names.filter((n) => n.startsWith('kafka-'));
  const ids = new Set<string>();
  for (const name of names.filter((n) => n.startsWith('mqlog-'))) {
    // loadConfig refuses unknown keys and wrong types, so every MQLOG_* variable is checked here.
    const config = loadConfig({ env: services[name].environment });
    expect(config.log.backend).toBe('kafka');
    expect(config.log.kafka.replicationFactor).toBe(3);
    for (const b of config.log.kafka.brokers) expect(kafkaHosts).toContain(b.split(':')[0]);
    ids.add(config.nodeId);
  }
  expect(ids.size).toBe(3);
});

test('the archiver and the nodes share one Kafka log and one Elasticsearch', () => {
  const archiver = loadConfig({ env: services.archiver.environment });
  const node = loadConfig({ env: services['mqlog-1'].environment });
  expect(archiver.log.kafka.brokers).toEqual(node.log.kafka.brokers);
  expect(archiver.elasticsearch.nodes).toEqual(['http://elasticsearch:9200']);
  expect(node.elasticsearch.nodes).toEqual(archiver.elasticsearch.nodes);
  expect(services.archiver.depends_on).toContain('elasticsearch');
});

test('the Kafka brokers form one KRaft quorum with distinct ids and advertised names', () => {
  const kafkas = names.filter((n) => n.startsWith('kafka-')).map((n) => ({ name: n, env: services[n].environment! }));
  const voters = kafkas[0].env.KAFKA_CONTROLLER_QUORUM_VOTERS.split(',');
  expect(voters).toHaveLength(3);
  for (const k of kafkas) {
    expect(k.env.KAFKA_CONTROLLER_QUORUM_VOTERS).toBe(kafkas[0].env.KAFKA_CONTROLLER_QUORUM_VOTERS);
    expect(voters).toContain(`${k.env.KAFKA_NODE_ID}@${k.name}:9093`);
    expect(k.env.KAFKA_ADVERTISED_LISTENERS).toBe(`PLAINTEXT://${k.name}:9092`);
  }
  expect(new Set(kafkas.map((k) => k.env.KAFKA_NODE_ID)).size).toBe(3);
});
