import { Injectable, type OnModuleInit } from '@nestjs/common';
import { DiscoveryService, MetadataScanner } from '@nestjs/core';
import { LOCKED_METADATA } from '../lock.constants.js';
import { LockService } from '../core/lock.service.js';
import { bindInstances } from './locked-instance.binder.js';
import { discoveredInstances, methodMetadata } from './instance-metadata.scanner.js';

/**
 * Finds the providers and controllers with `@Locked` methods and binds their instances (of every scope) to this
 * app's LockService, so several apps in one process (or one test) each lock with their own connection.
 */
@Injectable()
export class LockExplorer implements OnModuleInit {
  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly locks: LockService,
  ) {}

  onModuleInit(): void {
    for (const { wrapper, instance } of discoveredInstances(this.discovery)) {
      if (methodMetadata(this.scanner, instance, LOCKED_METADATA).length > 0) {
        bindInstances(wrapper, this.locks);
      }
    }
  }
}
