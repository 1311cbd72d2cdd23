// A CommonJS consumer app (Nest 11): the package as a user installs it, imported by name.
require('reflect-metadata');
const common = require('@nestjs/common');
const core = require('@nestjs/core');
const nestLock = require('nest-lock');
const testing = require('nest-lock/testing');
const { runChecks } = require('./checks.cjs');
const { runTestingChecks } = require('./testing-checks.cjs');

runChecks({ common, core, nestLock, prefix: `compat-cjs-${process.pid}:` })
  .then(() => runTestingChecks({ common, core, nestLock, testing }))
  .catch((error) => {
    console.error(error);
    process.exit(1);
  });
