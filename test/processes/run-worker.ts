import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

/** Exit code and output of a TypeScript worker run in its own Node process. */
export interface WorkerResult {
  code: number | null;
  output: string;
}

/**
 * Runs `test/processes/<name>.worker.ts` in a child process with the given arguments.
 * @param name worker file name without `.worker.ts`
 * @param args command-line arguments
 */
export function runWorker(name: string, args: string[]): Promise<WorkerResult> {
  const child = spawnWorker(name, args);
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, output })));
}

/**
 * Starts `test/processes/<name>.worker.ts` in a child process and returns it.
 * @param name worker file name without `.worker.ts`
 * @param args command-line arguments
 */
export function spawnWorker(name: string, args: string[]): ChildProcess {
  return spawn(
    process.execPath,
    [
      '-r',
      'ts-node/register/transpile-only',
      '-r',
      join(__dirname, '..', 'support', 'resolve-ts.js'),
      join(__dirname, `${name}.worker.ts`),
      ...args,
    ],
    { env: { ...process.env, TS_NODE_PROJECT: join(__dirname, '..', 'tsconfig.json') } },
  );
}
