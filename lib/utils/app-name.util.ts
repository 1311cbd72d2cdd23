import { existsSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join, resolve, sep } from 'node:path';

/**
 * The name an app's lock tokens carry when `appName` is not set: the `name` of the app's `package.json`, found by
 * walking up from the entry file (`node dist/main.js` finds the app's own), else the host name.
 * @param entry the entry file, `process.argv[1]`
 */
export function defaultAppName(entry: string | undefined): string {
  return (entry === undefined ? undefined : appPackageName(entry)) ?? hostname();
}

/**
 * The `name` of the nearest `package.json` above `entry` that has one. A tool run from the app's `node_modules`
 * (jest, ts-node, the Nest CLI) counts as the app: the walk starts above that `node_modules`. A `package.json`
 * without a name (such as `{ "type": "module" }` beside an ESM build) is passed over.
 * @param entry the entry file
 */
export function appPackageName(entry: string): string | undefined {
  const path = resolve(entry);
  const insideModules = path.indexOf(`${sep}node_modules${sep}`);
  let directory = insideModules >= 0 ? path.slice(0, insideModules) : dirname(path);
  for (;;) {
    const name = packageName(join(directory, 'package.json'));
    if (name !== undefined) {
      return name;
    }
    const parent = dirname(directory);
    if (parent === directory) {
      return undefined;
    }
    directory = parent;
  }
}

function packageName(file: string): string | undefined {
  if (!existsSync(file)) {
    return undefined;
  }
  try {
    const { name } = JSON.parse(readFileSync(file, 'utf8')) as { name?: unknown };
    return typeof name === 'string' && name !== '' ? name : undefined;
  } catch {
    // An unreadable or malformed package.json names nothing; the walk goes on.
    return undefined;
  }
}
