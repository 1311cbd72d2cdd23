import type { ChildProcess } from 'node:child_process';
import { spawnWorker } from './run-worker';
import type { LeaderWorkerConfig, LeaderWorkerLine } from './leader.worker';

/** A `leader.worker.ts` process: what it printed so far, and ways to wait for more. */
export class LeaderWorker {
  readonly child: ChildProcess;
  /** Every line it printed, in order. */
  readonly lines: LeaderWorkerLine[] = [];
  readonly exited: Promise<void>;
  private output = '';

  /** @param config the worker's settings */
  constructor(config: LeaderWorkerConfig) {
    this.child = spawnWorker('leader', [JSON.stringify(config)]);
    this.child.stdout?.on('data', (chunk: Buffer) => {
      this.output += chunk.toString();
      const complete = this.output.split('\n');
      this.output = complete.pop() ?? '';
      this.lines.push(...complete.filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as LeaderWorkerLine));
    });
    this.child.stderr?.on('data', (chunk: Buffer) => process.stderr.write(chunk));
    this.exited = new Promise((resolve) => this.child.once('exit', () => resolve()));
  }

  get pid(): number {
    return this.child.pid as number;
  }

  /** The worker's latest term that started, if any. */
  get lastElected(): LeaderWorkerLine | undefined {
    return this.lines.filter((line) => line.event === 'elected').pop();
  }

  /**
   * Sends a command: `resign`, `elect`, `stall <ms>`.
   * @param command the line
   */
  send(command: string): void {
    this.child.stdin?.write(`${command}\n`);
  }

  /**
   * The first `event` line from index `from` on that `matches`, once printed; fails after `timeout` ms.
   * @param event the kind of line
   * @param matches what else it must say
   * @param from index of the first line to look at @default 0
   * @param timeout ms
   */
  async line(
    event: LeaderWorkerLine['event'],
    from = 0,
    timeout = 10_000,
    matches: (line: LeaderWorkerLine) => boolean = () => true,
  ): Promise<LeaderWorkerLine> {
    const deadline = Date.now() + timeout;
    for (;;) {
      const found = this.lines.slice(from).find((line) => line.event === event && matches(line));
      if (found) {
        return found;
      }
      if (Date.now() > deadline) {
        throw new Error(`worker ${this.pid} printed no ${event} line in ${timeout} ms; it printed ${JSON.stringify(this.lines)}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  /** Kills it and waits until it is gone. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill(signal);
      await this.exited;
    }
  }
}

/**
 * The first of several workers to print an `event` line, each from the given index on.
 * @param workers the workers, with the index to start from in each
 * @param event the line wanted
 * @param timeout ms
 */
export async function firstLine(
  workers: ReadonlyArray<[LeaderWorker, number]>,
  event: LeaderWorkerLine['event'],
  timeout = 10_000,
): Promise<{ worker: LeaderWorker; line: LeaderWorkerLine }> {
  const deadline = Date.now() + timeout;
  for (;;) {
    for (const [worker, from] of workers) {
      const line = worker.lines.slice(from).find((candidate) => candidate.event === event);
      if (line) {
        return { worker, line };
      }
    }
    if (Date.now() > deadline) {
      const seen = workers.map(([worker, from]) => `${worker.pid}: ${JSON.stringify(worker.lines.slice(Math.max(0, from - 3)))}`);
      throw new Error(`no worker printed ${event} in ${timeout} ms; they printed (from 3 lines before the mark):\n${seen.join('\n')}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
