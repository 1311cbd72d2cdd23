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

  /** Reads report `id` while no build runs (a read lock on the key the build holds as a writer); readers overlap. */
  @Locked('report:{0}', { mode: 'read', waitTimeout: 0 })
  async preview(id: string): Promise<{ id: string; readers: 'many at once'; fencingToken: number | undefined }> {
    await sleep(1000);
    return { id, readers: 'many at once', fencingToken: this.locks.current()?.fencingToken };
  }

  /** Exports go to a partner API that takes 2 at a time: a semaphore of 2 permits across every instance. */
  @Locked('partner-export', { limit: 2, waitTimeout: 0 })
  async export(id: string): Promise<{ id: string; exported: true; permitOf: number | undefined }> {
    await sleep(1000);
    return { id, exported: true, permitOf: this.locks.current()?.limit };
  }

  /** Whether a report is being built right now. */
  async status(id: string): Promise<{ id: string; building: boolean }> {
    return { id, building: await this.locks.isLocked(`report:${id}`) };
  }
}
