#!/usr/bin/env node
// Finds chromium for the Web UI test (ADOS_CHROMIUM_PATH, /usr/bin/chromium) or installs Debian's with apt-get.
require('tsx/cjs');
try {
  process.stdout.write(`chromium: ${require('../infra/chromium.ts').ensureChromium()}\n`);
} catch (err) {
  process.stderr.write(`${err.message}\n`);
  process.exit(1);
}
