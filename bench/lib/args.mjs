// Command line of `npm run bench`.
export const USAGE = `usage: npm run bench -- [options]

  --repeats N          repeats per cell, brokers interleaved in each repeat; the median is reported (default 5)
  --quick              smoke run: short windows, 1,000 connections, 50,000 restart events, 1 repeat
  --only LIST          brokers, comma-separated: mqlog, aedes, mosquitto, mqlog-fsync, mqlog-kafka-1, mqlog-kafka-2
                       ("kafka" means both Kafka rows)
  --scenarios LIST     fanin-qos0, fanin-qos1, fanin-qos1-open, fanin-qos0-open, fanout-qos0, latency, connections, restart
  --protocol 4|5       the load generators speak MQTT 3.1.1 (default) or MQTT 5
  --loadgen js|native  the fan-in throughput scenarios' load generator: bench/loadgen.mjs (default) or
                       bench/native/loadgen.rs (built with rustc on first use; 3.1.1 only), whose cost per
                       message is a fraction of Node's, for brokers the JavaScript one cannot keep busy
  --docs / --no-docs   (do not) rewrite docs/benchmarks.md; default: only a full run of everything does
  --keep               keep the temp dir (broker logs, configs, data) for inspection
  --help               this text`;

const FULL = { warmupMs: 2000, measureMs: 5000, latencyMs: 10000, connections: 10000, restartEvents: 1_000_000 };
const QUICK = { warmupMs: 500, measureMs: 1500, latencyMs: 2000, connections: 1000, restartEvents: 50_000 };

export function parseArgs(argv, { targetIds, scenarioIds }) {
  const opts = { repeats: null, quick: false, targets: targetIds, scenarios: scenarioIds, docs: null, keep: false, help: false };
  const list = (value, known, name) => {
    const ids = value.split(',').map((s) => s.trim()).filter(Boolean).flatMap((s) => (s === 'kafka' && name === '--only' ? known.filter((k) => k.includes('kafka')) : [s]));
    const unknown = ids.filter((s) => !known.includes(s));
    if (unknown.length || ids.length === 0) throw new Error(`${name}: unknown ${unknown.join(', ') || '(empty)'}; known: ${known.join(', ')}`);
    return known.filter((k) => ids.includes(k)); // keep the canonical order
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${arg} needs a value`);
      return v;
    };
    if (arg === '--repeats') {
      opts.repeats = Number(value());
      if (!Number.isInteger(opts.repeats) || opts.repeats < 1) throw new Error('--repeats needs a positive integer');
    } else if (arg === '--quick') opts.quick = true;
    else if (arg === '--only') opts.targets = list(value(), targetIds, '--only');
    else if (arg === '--scenarios') opts.scenarios = list(value(), scenarioIds, '--scenarios');
    else if (arg === '--protocol') {
      const v = value();
      if (v !== '4' && v !== '5') throw new Error('--protocol needs 4 (MQTT 3.1.1) or 5');
      process.env.MQLOG_BENCH_PROTOCOL = v; // the load generators (child processes) inherit it
      opts.protocol = Number(v);
    } else if (arg === '--loadgen') {
      const v = value();
      if (v !== 'js' && v !== 'native') throw new Error('--loadgen needs js or native');
      opts.loadgen = v;
    } else if (arg === '--docs') opts.docs = true;
    else if (arg === '--no-docs') opts.docs = false;
    else if (arg === '--keep') opts.keep = true;
    else if (arg === '--help' || arg === '-h') opts.help = true;
    else throw new Error(`unknown option ${arg}\n\n${USAGE}`);
  }
  opts.repeats ??= opts.quick ? 1 : 5;
  opts.loadgen ??= 'js';
  if (opts.loadgen === 'native' && opts.protocol === 5) throw new Error('--loadgen native speaks MQTT 3.1.1 only');
  opts.docs ??= opts.loadgen === 'js' && opts.protocol !== 5 && !opts.quick && opts.targets.length === targetIds.length && opts.scenarios.length === scenarioIds.length;
  return { ...opts, ...(opts.quick ? QUICK : FULL) };
}
