// Marks dist/esm as ES modules, so Node loads the `import` build as ESM while dist/cjs stays CommonJS.
require('node:fs').writeFileSync(require('node:path').join(__dirname, '..', 'dist', 'esm', 'package.json'), '{ "type": "module" }\n');
