// Lets ts-node load sources whose relative imports name the emitted `.js` file (as ESM output requires):
// when `./x.js` does not exist, `./x.ts` is loaded instead. `nest-lock` (and its subpaths) is this repository's
// source, as for jest and tsc, so code written as a user writes it (the README's) runs as it is.
const Module = require('node:module');
const { join } = require('node:path');
const resolve = Module._resolveFilename;
const PACKAGE = /^nest-lock(?:\/(terminus|testing))?$/;
Module._resolveFilename = function resolveTs(request, ...rest) {
  const own = PACKAGE.exec(request);
  if (own) {
    return resolve.call(this, join(__dirname, '..', '..', 'lib', own[1] ?? '', 'index.ts'), ...rest);
  }
  try {
    return resolve.call(this, request, ...rest);
  } catch (error) {
    if (request.startsWith('.') && request.endsWith('.js')) {
      return resolve.call(this, `${request.slice(0, -3)}.ts`, ...rest);
    }
    throw error;
  }
};
