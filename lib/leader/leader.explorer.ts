import { Injectable, type OnApplicationBootstrap, type OnModuleInit } from '@nestjs/common';
import { DiscoveryService, MetadataScanner } from '@nestjs/core';
import { LEADER_ONLY_METADATA } from '../lock.constants.js';
import { InvalidLockOptionsError } from '../errors/index.js';
import { LockService } from '../core/lock.service.js';
import { bindInstances } from '../locked/locked-instance.binder.js';
import { discoveredInstances, methodMetadata } from '../locked/instance-metadata.scanner.js';
import type { LeaderOnlyMethodSpec } from './leader-only-method.runner.js';
import { resolveLeaderOptions } from './leader-options.resolver.js';

/**
 * Finds the `@LeaderOnly` methods of the app's providers and controllers, binds their instances to this app's
 * LockService, and campaigns for every name they use once the app has started (bootstrap).
 */
@Injectable()
export class LeaderExplorer implements OnModuleInit, OnApplicationBootstrap {
  /** The names to campaign for, with the decoration that gave each its options. */
  private readonly elections = new Map<string, LeaderOnlyMethodSpec>();

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly locks: LockService,
  ) {}

  onModuleInit(): void {
    for (const { wrapper, instance } of discoveredInstances(this.discovery)) {
      const specs = methodMetadata<LeaderOnlyMethodSpec>(this.scanner, instance, LEADER_ONLY_METADATA);
      if (specs.length > 0) {
        bindInstances(wrapper, this.locks);
        specs.forEach((spec) => this.add(spec));
      }
    }
  }

  onApplicationBootstrap(): void {
    for (const [name, spec] of this.elections) {
      this.locks.elect(name, spec.options);
    }
  }

  /** Records the election of one method; two methods that give one name different options are refused. */
  private add(spec: LeaderOnlyMethodSpec): void {
    const known = this.elections.get(spec.name);
    if (!known?.options) {
      this.elections.set(spec.name, spec.options ? spec : (known ?? spec));
      return;
    }
    const [mine, theirs] = [spec, known].map((one) => resolveLeaderOptions(one.options, `@LeaderOnly on ${one.where}`));
    if (spec.options && (mine.ttl !== theirs.ttl || mine.retry !== theirs.retry)) {
      throw new InvalidLockOptionsError(
        `@LeaderOnly("${spec.name}") on ${known.where} and on ${spec.where} give the election different options ` +
          `(${JSON.stringify(known.options)} and ${JSON.stringify(spec.options)}): give them the same, or give them on one method only.`,
      );
    }
  }
}
