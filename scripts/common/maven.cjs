'use strict';
// Fetching artifacts from Maven Central with `mvn` ($MVN) and
// maven-dependency-plugin, for the service starters that need jars or a zip.

const { runCommand } = require('./processes.cjs');
const { lastLines } = require('./files.cjs');

const DEPENDENCY_PLUGIN = 'org.apache.maven.plugins:maven-dependency-plugin:3.8.1';

/**
 * Runs `mvn -B -q [-f pom] maven-dependency-plugin:<goal> -D<k>=<v>...` in cwd;
 * throws ErrorClass "mvn could not resolve <what>" with the command and the end
 * of its output when it fails.
 */
async function runDependencyPlugin(goal, { pom, properties = {}, cwd, what, purpose, ErrorClass = Error }) {
  const mvn = process.env.MVN || 'mvn';
  const args = [
    '-B', '-q', '-Dstyle.color=never',
    ...(pom ? ['-f', pom] : []),
    `${DEPENDENCY_PLUGIN}:${goal}`,
    ...Object.entries(properties).map(([k, v]) => `-D${k}=${v}`),
  ];
  const res = await runCommand(mvn, args, { cwd, purpose, ErrorClass });
  if (res.code !== 0) {
    throw new ErrorClass(`mvn could not resolve ${what} (exit ${res.code}).\ncommand: ${mvn} ${args.join(' ')}\n${lastLines(res.output, 40)}`);
  }
  return res;
}

module.exports = { DEPENDENCY_PLUGIN, runDependencyPlugin };
