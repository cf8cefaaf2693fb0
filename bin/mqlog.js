#!/usr/bin/env node
'use strict';
const path = require('path');
const fs = require('fs');

const cli = path.join(__dirname, '..', 'dist', 'src', 'cli.js');
if (!fs.existsSync(cli)) {
  process.stderr.write('mqlog: not built yet; run `npm run build` (npm start and npm test build it for you)\n');
  process.exit(1);
}
const { main } = require(cli);
const { ConfigError } = require(path.join(__dirname, '..', 'dist', 'src', 'config.js'));
main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`mqlog: ${err.message}\n`);
    process.exitCode = err instanceof ConfigError ? 2 : 1;
  },
);
