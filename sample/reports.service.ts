import { Injectable, Logger } from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';
import { Locked, LockService } from '../lib';

/** Builds a report at most once at a time per id, across every instance of the app. */
@Injectable()
export class ReportsService {
  private readonly logger = new Logger(ReportsService.name);

  constructor(private readonly locks: LockService) {}

  /** Holds `report:<id>` while the (slow) report is built; the watchdog keeps the 5 s lease alive. */
  build(id: string, seconds: number): Promise<{ id: string; fencingToken: number; tookMs: number }> {
    return this.locks.using(`report:${id}`, async (lock) => {
      const started = Date.now();
      this.logger.log(`Building report ${id} with fencing token ${lock.fencingToken}`);
      await sleep(seconds * 1000, undefined, { signal: lock.signal });
      return { id, fencingToken: lock.fencingToken, tookMs: Date.now() - started };
    });
  }

  /** The same exclusion, declared: `@Locked` takes `report-archive:<id>` around the method. */
  @Locked((id: string) => `report-archive:${id}`)
  async archive(id: string): Promise<{ id: string; archived: true; fencingToken: number | undefined }> {
    await sleep(500);
    return { id, archived: true, fencingToken: this.locks.current()?.fencingToken };
  }

  /** Whether a report is being built right now. */
  async status(id: string): Promise<{ id: string; building: boolean }> {
    return { id, building: await this.locks.isLocked(`report:${id}`) };
  }
}
