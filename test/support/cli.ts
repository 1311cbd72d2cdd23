import { spawn } from 'node:child_process';
import { join } from 'node:path';

/** What a run of the CLI gave. */
export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the shipped CLI (from source) with the given arguments and standard input. */
export function cli(args: string[], input = ''): Promise<CliResult> {
  const child = spawn(
    process.execPath,
    [
      '-r',
      'ts-node/register/transpile-only',
      '-r',
      join(__dirname, 'resolve-ts.js'),
      join(__dirname, '..', '..', 'lib', 'cli', 'nest-lock.cli.ts'),
      ...args,
    ],
    { env: { ...process.env, TS_NODE_PROJECT: join(__dirname, '..', 'tsconfig.json') } },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdin.end(input);
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}
