#!/usr/bin/env node
// The `ados` CLI: TypeScript sources run through tsx, so there is no build step to forget.
require('tsx/cjs');
require('../api/cli/index.ts').main();
