import { Inject, Injectable } from '@nestjs/common';
import { HealthIndicatorService, type HealthIndicatorResult } from '@nestjs/terminus';
import { performance } from 'node:perf_hooks';
import { LockStore } from '../interfaces/index.js';
import { QuorumLockStore } from '../stores/index.js';
import { LockService } from '../core/lock.service.js';

/**
 * A `@nestjs/terminus` health indicator: up when the lock backend answers, with its round-trip time; down with
 * the reason otherwise; in quorum mode it also reports how many nodes answer (`nodes: { up, total, quorum }`). Both
 * list the kinds of lock the backend takes (`modes`: `exclusive`, and `read` and `semaphore` where supported) and,
 * when the app campaigns for leader elections, the names this instance leads now (`leading`).
 * Import it from `nest-lock/terminus` and list it in the providers of your health module.
 *
 * ```ts
 * @Get('health') @HealthCheck()
 * check() { return this.health.check([() => this.locks.isHealthy('locks')]); }
 * ```
 */
@Injectable()
export class LockHealthIndicator {
  constructor(
    private readonly health: HealthIndicatorService,
    @Inject(LockStore) private readonly store: LockStore,
    private readonly locks: LockService,
  ) {}

  /**
   * Checks that the lock backend answers.
   * @param key the name of this check in the health report @default 'locks'
   */
  async isHealthy(key = 'locks'): Promise<HealthIndicatorResult> {
    const indicator = this.health.check(key);
    const started = performance.now();
    const nodes = this.store instanceof QuorumLockStore ? await this.store.nodesUp() : undefined;
    const { campaigning, leading } = this.locks.elections.names();
    const details = {
      modes: this.store.shares ? ['exclusive', 'read', 'semaphore'] : ['exclusive'],
      ...(nodes && { nodes }),
      ...(campaigning.length > 0 && { leading }),
    };
    try {
      await (this.store.ping ? this.store.ping() : this.store.isLocked(['health-check']));
      return indicator.up({ latencyMs: Math.round((performance.now() - started) * 10) / 10, ...details });
    } catch (error) {
      return indicator.down({ message: error instanceof Error ? error.message : String(error), ...details });
    }
  }
}
