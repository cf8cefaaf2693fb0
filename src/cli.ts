/**
 * The `mqlog` command.
 *
 *   mqlog start [--config FILE] [--port N] [--data-dir DIR] [--node-id ID] [--log-level L]
 *   mqlog log verify [--data-dir DIR] [--config FILE]
 *   mqlog log repair --stream S --partition P (--truncate-at OFFSET | --skip OFFSET) [--data-dir DIR]
 *   mqlog audit [filters] | mqlog replay [options] | mqlog archiver [--config FILE]
 *   mqlog status | clients | kick ID | publish TOPIC PAYLOAD | retained [list|delete]  (a running node's API)
 *   mqlog admin add|remove|list NAME   (admin users of the API and dashboard)
 *   mqlog --help | --version
 */
import { parseArgs as parseArgsOf, ParseArgsConfig } from 'util';
import { VERSION } from './version';
import { join } from 'path';
import { ConfigError, defaultConfig, DEFAULT_API_PASSWORD, loadConfig } from './config';
import { ApiAccess } from './api/ApiAccess';
import { clients, kick, publish, retained, status } from './commands/operate';
import { createBroker } from './index';
import { repairPartition, verifyLog } from './log/file/LogMaintenance';
import { existsSync, readFileSync } from 'fs';
import { hashPassword } from '../auth/passwordHash';
import { readUsersFile, writeUsersFile } from '../auth/builtin/UsersFile';
import { createLogger } from './logger';
import { apiTarget } from './commands/ApiClient';
import { audit } from './commands/audit';
import { replay } from './commands/replay';
import { runArchiver } from './commands/archiver';

const HELP = `mqlog — an MQTT 3.1/3.1.1/5.0 broker whose single source of truth is a partitioned log

Usage:
  mqlog start [options]          run a broker node (default: MQTT on 1883, WebSocket on 8083, data in ./data)
  mqlog log verify [options]     check every record of the embedded log (CRC and framing)
  mqlog log repair [options]     repair a partition after 'verify' reported a corrupt record
  mqlog passwd FILE USER [options]   add or change a user in a users file (Mosquitto format)
  mqlog audit [options]          message history: who published what, where, when (table or JSON lines)
  mqlog replay [options]         publish a topic's past messages again (after an outage), with progress
  mqlog archiver [options]       archive the log to Elasticsearch as its own process (Kafka log)
  mqlog status                   a running node's health, counts and the cluster's nodes
  mqlog clients [--search S]     clients and sessions (--page N, --limit N, --json)
  mqlog kick CLIENT_ID           end a client's connection
  mqlog publish TOPIC PAYLOAD    publish through the API (--qos 0|1|2, --retain, --encoding plain|base64)
  mqlog retained [list|delete TOPIC]   retained messages (--search S, --json)
  mqlog admin add NAME           add an admin user of the API and dashboard, or set its password
  mqlog admin remove NAME        remove one; mqlog admin list: list them (--data-dir or --config)
  mqlog --help                   this text
  mqlog --version                the version

Options for start:
  --config FILE      JSON config file (see docs/configuration.md); flags and environment override it
  --port N           MQTT/TCP port (listeners.tcp.port)
  --data-dir DIR     where the embedded log lives (dataDir)
  --node-id ID       node identity (default: generated once, kept in <data-dir>/node-id)
  --log-level LEVEL  trace|debug|info|warn|error|fatal|silent
  --set PATH=VALUE   any setting by its dotted path, e.g. --set mqtt.maxInflight=64

Options for log verify / log repair:
  --data-dir DIR     data directory (default ./data, or dataDir from --config)
  --config FILE      take dataDir from this config file
  --stream NAME      stream to repair, e.g. mqlog.messages
  --partition N      partition to repair
  --truncate-at OFF  drop the record at OFF and everything after it in that partition
  --skip OFF         replace only the record at OFF by an empty marker, keeping what follows

Options for passwd:
  --password PW      the password (default: read from stdin, or asked for on a terminal)
  --scheme S         pbkdf2-sha512 (default), pbkdf2-sha256 (the one MQTT 5 SCRAM-SHA-256 can use), bcrypt or sha256
  --delete           remove USER from FILE
  --create           start FILE afresh (it may not exist yet either way)

Options for audit (asks a node's HTTP API; it answers from Elasticsearch or from the log):
  --topic FILTER     MQTT topic filter, wildcards allowed (quote it: 'sensors/+/temp')
  --from TIME        from this time (ISO 8601 like 2026-11-23T10:00:00Z, or epoch ms), inclusive
  --to TIME          up to this time, exclusive
  --client-id ID     published by this client id
  --username NAME    published by this user
  --text WORDS       payload holds every one of these words
  --limit N          messages per page (default 100, at most 1000)
  --after CURSOR     continue after a previous page
  --all              follow every page to the end
  --json             JSON lines instead of a table

Options for replay:
  --topic FILTER     what to replay (required)
  --from/--to TIME   time range, or --partition P --from-offset A --to-offset B (log positions)
  --target T         subscribers (default: publish again on the original topics),
                     client (only --client-id ID gets them), or prefix (publish under
                     --prefix P, default replay/<replay id>/ + original topic; never a $ topic)
  --detach           print the replay id and return instead of following its progress (Ctrl-C cancels)

Options for audit, replay, status, clients, kick, publish and retained:
  --url URL          the node's API (default http://127.0.0.1:18083, or MQLOG_API_URL)
  --api-user U       API user (default admin, or MQLOG_API_USER)
  --api-password P   API password (default public, or MQLOG_API_PASSWORD)
  --api-key KEY      an API key instead of user and password (or MQLOG_API_KEY)

Options for admin: --password PW (default: read from stdin), --data-dir DIR or --config FILE

Options for archiver: --config FILE, --set PATH=VALUE, --log-level L (needs elasticsearch.nodes)

Environment: MQLOG_PORT, MQLOG_DATA_DIR, MQLOG_NODE_ID, MQLOG_LOG_LEVEL, and any
setting as MQLOG__<path with __ between parts>, e.g. MQLOG__mqtt__maxInflight=64.
`;

/** Exit status of a node that failed (NodeHealth): its supervisor should restart it. */
export const EXIT_NODE_FAILED = 70;

interface Parsed {
  command: string[];
  flags: Map<string, string[]>;
}

/** Every option of every command (each command then says which it takes: checkFlags). */
const OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' },
  delete: { type: 'boolean' },
  create: { type: 'boolean' },
  all: { type: 'boolean' },
  json: { type: 'boolean' },
  detach: { type: 'boolean' },
  retain: { type: 'boolean' },
  set: { type: 'string', multiple: true },
  ...Object.fromEntries(
    [
      'config', 'port', 'data-dir', 'node-id', 'log-level', 'stream', 'partition', 'truncate-at', 'skip', 'password', 'scheme',
      'url', 'api-user', 'api-password', 'api-key', 'topic', 'from', 'to', 'client-id', 'username', 'text', 'limit', 'after',
      'from-offset', 'to-offset', 'target', 'prefix', 'qos', 'search', 'page', 'encoding',
    ].map((name) => [name, { type: 'string' }]),
  ),
} as const satisfies ParseArgsConfig['options'];

/** Node's util.parseArgs over the options above: unknown options and missing values are errors. */
export function parseArgs(argv: string[]): Parsed {
  let parsed;
  try {
    parsed = parseArgsOf({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    const m = (err as Error).message;
    const unknown = /^Unknown option '([^']+)'/.exec(m);
    const missing = /^Option '(--[a-z-]+)[^']*' argument missing/.exec(m);
    throw new ConfigError(unknown ? `unknown option ${unknown[1]} (see mqlog --help)` : missing ? `option ${missing[1]} needs a value` : `${m} (see mqlog --help)`);
  }
  const flags = new Map<string, string[]>();
  for (const [name, value] of Object.entries(parsed.values)) {
    if (value === undefined) continue;
    flags.set(name, Array.isArray(value) ? value.map(String) : [String(value)]);
  }
  return { command: parsed.positionals, flags };
}

function one(flags: Map<string, string[]>, name: string): string | undefined {
  const v = flags.get(name);
  return v ? v[v.length - 1] : undefined;
}

function checkFlags(flags: Map<string, string[]>, allowed: string[]): void {
  for (const name of flags.keys()) {
    if (!allowed.includes(name)) throw new ConfigError(`unknown option --${name} (see mqlog --help)`);
  }
}

function configFrom(flags: Map<string, string[]>) {
  const overrides: Record<string, string> = {};
  const port = one(flags, 'port');
  if (port !== undefined) overrides['listeners.tcp.port'] = port;
  const dataDir = one(flags, 'data-dir');
  if (dataDir !== undefined) overrides.dataDir = dataDir;
  const nodeId = one(flags, 'node-id');
  if (nodeId !== undefined) overrides.nodeId = nodeId;
  const level = one(flags, 'log-level');
  if (level !== undefined) overrides['logging.level'] = level;
  for (const kv of flags.get('set') ?? []) {
    const eq = kv.indexOf('=');
    if (eq <= 0) throw new ConfigError(`--set needs PATH=VALUE, got '${kv}'`);
    overrides[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  return loadConfig({ file: one(flags, 'config') ?? process.env.MQLOG_CONFIG, env: process.env, overrides });
}

async function start(flags: Map<string, string[]>): Promise<number> {
  checkFlags(flags, ['config', 'port', 'data-dir', 'node-id', 'log-level', 'set']);
  const config = configFrom(flags);
  const logger = createLogger({ level: config.logging.level });
  const node = createBroker(config, { logger });
  let stopping: Promise<void> | null = null;
  const shutdown = (signal: string) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting without a clean shutdown');
      process.exit(1);
    }
    logger.info({ signal }, 'shutting down: flushing the log and closing clients');
    stopping = node.stop().then(
      () => process.exit(0),
      (err) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGHUP', () => {
    logger.info('SIGHUP: reloading users and access rules');
    node.reloadAccess().catch((err: Error) => logger.error({ err }, 'reload failed'));
  });
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  // A failed node acknowledges nothing more; the process exits so that its supervisor restarts it.
  node.on('failed', () => {
    process.stderr.write(`mqlog: node failed: ${node.healthReport().reasons.join('; ')}\n`);
    setTimeout(() => process.exit(EXIT_NODE_FAILED), 50);
  });
  // An exception nobody caught means the node's state may be wrong: stop serving rather than serve wrongly.
  process.on('unhandledRejection', (err) => node.fail('unhandled rejection', err));
  process.on('uncaughtException', (err) => node.fail('uncaught exception', err));
  try {
    const ports = await node.start();
    logger.info({ ports, dashboard: dashboardUrl(config, node, ports.api) }, startBanner(config, node, ports));
  } catch (err) {
    if (node.failed) return -1; // the 'failed' handler exits
    logger.fatal({ err }, 'mqlog could not start');
    await node.stop().catch(() => undefined);
    process.stderr.write(`mqlog: ${(err as Error).message}\n`);
    return 1;
  }
  return -1; // keep running
}

type StartedNode = ReturnType<typeof createBroker>;

function dashboardUrl(config: ReturnType<typeof configFrom>, node: StartedNode, port: number | undefined): string | null {
  if (port === undefined) return null;
  const host = node.operator?.apiHost ?? config.api.host;
  return `http://${host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host}:${port}/`;
}

/** The lines a person starting a node wants: where each listener is, where the dashboard is. */
function startBanner(config: ReturnType<typeof configFrom>, node: StartedNode, ports: Awaited<ReturnType<StartedNode['start']>>): string {
  const l = config.listeners;
  const lines = [`mqlog ${VERSION} node ${node.nodeId} ready (${config.log.backend} log)`];
  if (ports.tcp !== undefined) lines.push(`  MQTT over TCP        mqtt://${l.tcp.host}:${ports.tcp}`);
  if (ports.tls !== undefined) lines.push(`  MQTT over TLS        mqtts://${l.tls.host}:${ports.tls}`);
  if (ports.ws !== undefined) lines.push(`  MQTT over WebSocket  ws://${l.ws.host}:${ports.ws}${l.ws.path}`);
  if (ports.wss !== undefined) lines.push(`  MQTT over WSS        wss://${l.wss.host}:${ports.wss}${l.wss.path}`);
  const dash = dashboardUrl(config, node, ports.api);
  if (dash) lines.push(`  dashboard and API    ${dash} (metrics: ${dash}metrics)`);
  return lines.join('\n');
}

async function logCommand(sub: string | undefined, flags: Map<string, string[]>): Promise<number> {
  if (sub === 'verify') {
    checkFlags(flags, ['data-dir', 'config']);
    const dir = join(dataDirOf(flags), 'log');
    const report = await verifyLog(dir);
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    const corrupt = report.partitions.reduce((n, p) => n + p.corrupt.length, 0);
    process.stderr.write(corrupt === 0 ? `log ${dir}: all records intact\n` : `log ${dir}: ${corrupt} corrupt record(s); see 'mqlog log repair --help'\n`);
    return corrupt === 0 ? 0 : 2;
  }
  if (sub === 'repair') {
    checkFlags(flags, ['data-dir', 'config', 'stream', 'partition', 'truncate-at', 'skip']);
    const stream = one(flags, 'stream');
    const partition = Number(one(flags, 'partition'));
    const truncateAt = one(flags, 'truncate-at');
    const skip = one(flags, 'skip');
    if (!stream || !Number.isInteger(partition) || (truncateAt === undefined) === (skip === undefined)) {
      throw new ConfigError('log repair needs --stream, --partition and exactly one of --truncate-at or --skip');
    }
    const dir = join(dataDirOf(flags), 'log');
    const action = truncateAt !== undefined ? { truncateAt: Number(truncateAt) } : { skip: Number(skip) };
    await repairPartition(dir, stream, partition, action);
    process.stderr.write(`repaired ${stream}/${partition} in ${dir}: ${JSON.stringify(action)}\n`);
    return 0;
  }
  throw new ConfigError(`unknown command 'log ${sub ?? ''}' (use 'log verify' or 'log repair')`);
}

async function readPassword(): Promise<string> {
  if (process.stdin.isTTY) {
    process.stderr.write('Password: ');
  }
  // The password is the first line of stdin (a terminal echoes it; pass --password or pipe it to avoid that).
  const text = process.stdin.isTTY ? await new Promise<string>((resolve) => process.stdin.once('data', (d) => resolve(d.toString()))) : readFileSync(0, 'utf8');
  process.stdin.pause();
  return text.split(/\r?\n/)[0];
}

async function passwd(args: string[], flags: Map<string, string[]>): Promise<number> {
  checkFlags(flags, ['password', 'scheme', 'delete', 'create']);
  const [file, user] = args;
  if (!file || !user) throw new ConfigError('usage: mqlog passwd FILE USER [--password PW] [--scheme S] [--delete] [--create]');
  const users = one(flags, 'create') || !existsSync(file) ? new Map<string, string>() : readUsersFile(file);
  if (one(flags, 'delete')) {
    if (!users.delete(user)) throw new ConfigError(`no user '${user}' in ${file}`);
  } else {
    const scheme = (one(flags, 'scheme') ?? 'pbkdf2-sha512') as 'pbkdf2-sha512' | 'pbkdf2-sha256' | 'bcrypt' | 'sha256';
    if (!['pbkdf2-sha512', 'pbkdf2-sha256', 'bcrypt', 'sha256'].includes(scheme)) throw new ConfigError(`unknown --scheme ${scheme}`);
    const password = one(flags, 'password') ?? (await readPassword());
    if (!password) throw new ConfigError('the password may not be empty');
    users.set(user, hashPassword(password, scheme));
  }
  writeUsersFile(file, users);
  process.stderr.write(`${one(flags, 'delete') ? 'removed' : 'set'} user '${user}' in ${file}\n`);
  return 0;
}

const API_FLAGS = ['url', 'api-user', 'api-password', 'api-key'];

function apiOf(flags: Map<string, string[]>) {
  return apiTarget({ url: one(flags, 'url'), user: one(flags, 'api-user'), password: one(flags, 'api-password'), key: one(flags, 'api-key') });
}

/** The data directory a command acts on: --data-dir, else the config file's, else ./data. */
function dataDirOf(flags: Map<string, string[]>): string {
  const dir = one(flags, 'data-dir');
  if (dir) return dir;
  const file = one(flags, 'config');
  return file ? loadConfig({ file }).dataDir : './data';
}

async function adminCommand(args: string[], flags: Map<string, string[]>): Promise<number> {
  checkFlags(flags, ['password', 'data-dir', 'config']);
  const [sub, name] = args;
  const dataDir = dataDirOf(flags);
  const config = one(flags, 'config') ? loadConfig({ file: one(flags, 'config') }) : defaultConfig();
  const access = new ApiAccess(dataDir, config.api, DEFAULT_API_PASSWORD);
  if (sub === 'list') {
    for (const a of access.listAdmins()) stdout(`${a.name}\t${a.source}`);
    return 0;
  }
  if (!name || (sub !== 'add' && sub !== 'remove')) throw new ConfigError('usage: mqlog admin add|remove NAME [--password PW] | mqlog admin list');
  if (sub === 'remove') {
    if (!access.removeAdmin(name)) throw new ConfigError(`no admin '${name}' in ${dataDir}/admins.json`);
    stderr(`removed admin '${name}'`);
    return 0;
  }
  const result = access.setAdmin(name, one(flags, 'password') ?? (await readPassword()));
  stderr(`${result === 'added' ? 'added' : 'changed the password of'} admin '${name}' in ${dataDir}/admins.json (a running node reads it at its next request)`);
  return 0;
}

const stdout = (line: string) => process.stdout.write(`${line}\n`);
const stderr = (line: string) => process.stderr.write(`${line}\n`);

async function auditCommand(flags: Map<string, string[]>): Promise<number> {
  checkFlags(flags, [...API_FLAGS, 'topic', 'from', 'to', 'client-id', 'username', 'text', 'limit', 'after', 'all', 'json']);
  return audit(
    apiOf(flags),
    {
      topic: one(flags, 'topic'),
      from: one(flags, 'from'),
      to: one(flags, 'to'),
      clientId: one(flags, 'client-id'),
      username: one(flags, 'username'),
      text: one(flags, 'text'),
      limit: one(flags, 'limit'),
      after: one(flags, 'after'),
      all: one(flags, 'all') === 'true',
      json: one(flags, 'json') === 'true',
    },
    stdout,
    stderr,
  );
}

async function replayCommand(flags: Map<string, string[]>): Promise<number> {
  checkFlags(flags, [...API_FLAGS, 'topic', 'from', 'to', 'partition', 'from-offset', 'to-offset', 'target', 'client-id', 'prefix', 'detach']);
  if (!one(flags, 'topic')) throw new ConfigError('replay needs --topic FILTER (see mqlog --help)');
  return replay(
    apiOf(flags),
    {
      topic: one(flags, 'topic'),
      from: one(flags, 'from'),
      to: one(flags, 'to'),
      partition: one(flags, 'partition'),
      fromOffset: one(flags, 'from-offset'),
      toOffset: one(flags, 'to-offset'),
      target: one(flags, 'target'),
      clientId: one(flags, 'client-id'),
      prefix: one(flags, 'prefix'),
      detach: one(flags, 'detach') === 'true',
    },
    stdout,
    stderr,
  );
}

async function archiverCommand(flags: Map<string, string[]>): Promise<number> {
  checkFlags(flags, ['config', 'node-id', 'log-level', 'set']);
  const config = configFrom(flags);
  const logger = createLogger({ level: config.logging.level });
  const stop = await runArchiver(config, logger);
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) process.exit(1);
    stopping = true;
    logger.info({ signal }, 'archiver shutting down');
    stop().then(
      () => process.exit(0),
      (err: Error) => {
        logger.error({ err }, 'archiver shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  return -1;
}

export async function main(argv: string[]): Promise<number> {
  const { command, flags } = parseArgs(argv);
  if (one(flags, 'help') || command[0] === 'help') {
    process.stdout.write(HELP);
    return 0;
  }
  if (one(flags, 'version') || command[0] === 'version') {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  switch (command[0]) {
    case 'start':
    case undefined:
      return start(flags);
    case 'log':
      return logCommand(command[1], flags);
    case 'passwd':
      return passwd(command.slice(1), flags);
    case 'audit':
      return auditCommand(flags);
    case 'replay':
      return replayCommand(flags);
    case 'archiver':
      return archiverCommand(flags);
    case 'admin':
      return adminCommand(command.slice(1), flags);
    case 'status':
      checkFlags(flags, [...API_FLAGS, 'json']);
      return status(apiOf(flags), one(flags, 'json') === 'true', stdout);
    case 'clients':
      checkFlags(flags, [...API_FLAGS, 'search', 'page', 'limit', 'json']);
      return clients(apiOf(flags), { search: one(flags, 'search'), page: one(flags, 'page'), limit: one(flags, 'limit'), json: one(flags, 'json') === 'true' }, stdout);
    case 'kick':
      checkFlags(flags, API_FLAGS);
      return kick(apiOf(flags), command[1], stdout);
    case 'publish':
      checkFlags(flags, [...API_FLAGS, 'qos', 'retain', 'encoding']);
      return publish(apiOf(flags), command.slice(1), { qos: one(flags, 'qos'), retain: one(flags, 'retain') === 'true', encoding: one(flags, 'encoding') }, stdout);
    case 'retained':
      checkFlags(flags, [...API_FLAGS, 'search', 'json']);
      return retained(apiOf(flags), command.slice(1), { search: one(flags, 'search'), json: one(flags, 'json') === 'true' }, stdout);
    default:
      throw new ConfigError(`unknown command '${command[0]}' (see mqlog --help)`);
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      if (code >= 0) process.exitCode = code;
    },
    (err: Error) => {
      process.stderr.write(`mqlog: ${err.message}\n`);
      process.exitCode = err instanceof ConfigError ? 2 : 1;
    },
  );
}
