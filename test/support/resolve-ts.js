// Lets ts-node load sources whose relative imports name the emitted `.js` file (as ESM output requires):
// when `./x.js` does not exist, `./x.ts` is loaded instead.
const Module = require('node:module');
const resolve = Module._resolveFilename;
Module._resolveFilename = function resolveTs(request, ...rest) {
  try {
    return resolve.call(this, request, ...rest);
  } catch (error) {
    if (request.startsWith('.') && request.endsWith('.js')) {
      return resolve.call(this, `${request.slice(0, -3)}.ts`, ...rest);
    }
    throw error;
  }
};
