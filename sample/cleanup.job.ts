import { Injectable, Logger } from '@nestjs/common';
import { Cron, CronExpression } from '@nestjs/schedule';
import { Locked } from '../lib';

/** A cron job that must run on one instance per tick, however many instances run. */
@Injectable()
export class CleanupJob {
  private readonly logger = new Logger(CleanupJob.name);

  @Cron(CronExpression.EVERY_10_SECONDS)
  @Locked('sample:cleanup', { onBusy: 'skip' })
  async run(): Promise<void> {
    this.logger.log(`Cleanup ran here (pid ${process.pid}); other instances skipped this tick.`);
  }
}
