'use strict';
// The command lines of the service starters (scripts/<service>.mjs):
// `<command> [args] [--flag value | --flag=value | --switch]`, usage on
// help/--help/-h or no command, and errors printed as "<name>: error: ...".

/**
 * Parses argv (command first). flags maps '--name' to 'string', 'int' (a
 * positive integer), 'number' (a positive number) or 'bool'; a value lands in
 * opts under the camelCased name ('--tls-port' -> tlsPort). Other words go
 * through positional(word) (which may throw) into `args`; without it they are
 * unknown options. Errors are ErrorClass, the unknown-option one with usage.
 */
function parseArgs(argv, { flags, usage, ErrorClass, positional }) {
  const [command, ...rest] = argv;
  const opts = {};
  const args = [];
  for (let i = 0; i < rest.length; i++) {
    let arg = rest[i];
    let value;
    const eq = arg.indexOf('=');
    if (arg.startsWith('--') && eq > 0) {
      value = arg.slice(eq + 1);
      arg = arg.slice(0, eq);
    }
    const kind = flags[arg];
    if (!kind) {
      if (positional && !arg.startsWith('-')) {
        args.push(positional(arg));
        continue;
      }
      throw new ErrorClass(`unknown option ${arg}\n\n${usage}`);
    }
    const key = arg.slice(2).replace(/-(\w)/g, (_, c) => c.toUpperCase());
    if (kind === 'bool') {
      opts[key] = true;
      continue;
    }
    if (value === undefined) {
      value = rest[++i];
      if (value === undefined) throw new ErrorClass(`${arg} needs a value`);
    }
    if (kind === 'int' || kind === 'number') {
      const n = Number(value);
      const ok = kind === 'int' ? Number.isInteger(n) : Number.isFinite(n);
      if (!ok || n <= 0) throw new ErrorClass(`${arg} needs a positive ${kind === 'int' ? 'integer' : 'number'}, got ${value}`);
      value = n;
    }
    opts[key] = value;
  }
  return { command, opts, args };
}

/**
 * Runs a CLI: parses process.argv, prints usage for help/--help/-h or no
 * command, else awaits commands[command](opts, args). An ErrorClass error is
 * printed as "<name>: error: <message>", anything else with its stack; both
 * set exit code 1.
 */
function runCli({ name, usage, flags, ErrorClass, positional, commands }) {
  const main = async () => {
    const { command, opts, args } = parseArgs(process.argv.slice(2), { flags, usage, ErrorClass, positional });
    if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
      process.stdout.write(`${usage}\n`);
      return;
    }
    if (!Object.prototype.hasOwnProperty.call(commands, command)) throw new ErrorClass(`unknown command ${command}\n\n${usage}`);
    await commands[command](opts, args);
  };
  return main().catch((err) => {
    if (err instanceof ErrorClass) process.stderr.write(`${name}: error: ${err.message}\n`);
    else process.stderr.write(`${name}: unexpected error: ${err && err.stack ? err.stack : err}\n`);
    process.exitCode = 1;
  });
}

/** The --timeout S flag in ms (undefined when not given). */
function timeoutMsOf(opts) {
  return opts.timeout ? opts.timeout * 1000 : undefined;
}

module.exports = { parseArgs, runCli, timeoutMsOf };
