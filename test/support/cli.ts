import { spawn } from 'node:child_process';
import { join } from 'node:path';

/** What a run of the CLI gave. */
export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

const CLI_COMMAND = [
  process.execPath,
  '-r',
  'ts-node/register/transpile-only',
  '-r',
  join(__dirname, 'resolve-ts.js'),
  join(__dirname, '..', '..', 'lib', 'cli', 'nest-lock.cli.ts'),
];

/** Runs the shipped CLI (from source) with the given arguments and standard input (a pipe, not a terminal). */
export function cli(args: string[], input = ''): Promise<CliResult> {
  return run(CLI_COMMAND[0], [...CLI_COMMAND.slice(1), ...args], input);
}

/** Runs the CLI on a pseudo-terminal (util-linux `script`), as an operator at a shell would; its output is stdout. */
export function cliOnTerminal(args: string[], input: string): Promise<CliResult> {
  const quote = (word: string): string => `'${word.replace(/'/g, `'\\''`)}'`;
  return run('script', ['-qec', [...CLI_COMMAND, ...args].map(quote).join(' '), '/dev/null'], input);
}

function run(command: string, args: string[], input: string): Promise<CliResult> {
  const child = spawn(command, args, { env: { ...process.env, TS_NODE_PROJECT: join(__dirname, '..', 'tsconfig.json') } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdin.end(input);
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}
