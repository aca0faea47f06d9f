#!/usr/bin/env node
// Finds PostgreSQL's server binaries for `ados cluster` (ADOS_POSTGRES_BIN, /usr/lib/postgresql/*/bin) or installs Debian's postgresql-15.
require('tsx/cjs');
try {
  process.stdout.write(`postgres: ${require('../infra/cluster/postgres.ts').ensurePostgresBin()}\n`);
} catch (err) {
  process.stderr.write(`${err.message}\n`);
  process.exit(1);
}
