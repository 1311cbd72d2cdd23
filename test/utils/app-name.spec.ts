import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { appPackageName, defaultAppName } from '../../lib/utils/app-name.util';

const root = join(__dirname, '..', '..');

describe('the default appName', () => {
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'nest-lock-app-name-'));
  });

  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  function write(path: string, content: string): string {
    const file = join(dir, path);
    mkdirSync(join(file, '..'), { recursive: true });
    writeFileSync(file, content);
    return file;
  }

  it('is the name of the package.json above the entry file (node dist/main.js)', () => {
    write('orders/package.json', JSON.stringify({ name: 'orders-api' }));
    expect(defaultAppName(write('orders/dist/main.js', ''))).toBe('orders-api');
  });

  it('passes over a package.json without a name, such as the { "type": "module" } of an ESM build', () => {
    write('orders/package.json', JSON.stringify({ name: 'orders-api' }));
    write('orders/dist/package.json', JSON.stringify({ type: 'module' }));
    expect(appPackageName(write('orders/dist/main.js', ''))).toBe('orders-api');
  });

  it('is the app, not the tool, when the entry is a tool in the app’s node_modules (jest, ts-node, nest)', () => {
    write('orders/package.json', JSON.stringify({ name: 'orders-api' }));
    write('orders/node_modules/jest/package.json', JSON.stringify({ name: 'jest' }));
    expect(appPackageName(write('orders/node_modules/jest/bin/jest.js', ''))).toBe('orders-api');
  });

  it('passes over a malformed package.json', () => {
    write('orders/package.json', JSON.stringify({ name: 'orders-api' }));
    write('orders/dist/package.json', '{ not json');
    expect(appPackageName(write('orders/dist/main.js', ''))).toBe('orders-api');
  });

  it('is the host name when no package.json above the entry names one, or there is no entry (a REPL)', () => {
    // The temporary directory sits in /tmp, with no package.json above it.
    expect(defaultAppName(write('script.js', ''))).toBe(hostname());
    expect(defaultAppName(undefined)).toBe(hostname());
  });

  it('is what the tokens of an app run as `node dist/main.js` start with, outside npm (no npm_package_name)', async () => {
    write('orders/package.json', JSON.stringify({ name: '@acme/orders' }));
    const resolver = join(root, 'lib', 'options', 'lock-module-options.resolver.ts');
    const entry = write(
      'orders/dist/main.js',
      `console.log(require(${JSON.stringify(resolver)}).resolveLockModuleOptions({ store: 'memory' }).holder);`,
    );
    const env: NodeJS.ProcessEnv = { ...process.env, TS_NODE_PROJECT: join(root, 'test', 'tsconfig.json') };
    delete env.npm_package_name;
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['-r', 'ts-node/register/transpile-only', '-r', join(root, 'test', 'support', 'resolve-ts.js'), entry],
      { cwd: root, env },
    );
    expect(stdout.trim()).toMatch(/^acme_orders@[\w.-]+:\d+\/$/);
  });
});
