import { Injectable, type OnModuleInit } from '@nestjs/common';
import { DiscoveryService, MetadataScanner } from '@nestjs/core';
import { LOCKED_METADATA } from '../lock.constants.js';
import { LockService } from '../core/lock.service.js';
import { bindInstances } from './locked-instance.binder.js';

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
    for (const wrapper of [...this.discovery.getProviders(), ...this.discovery.getControllers()]) {
      const instance: unknown = wrapper.instance;
      if (typeof instance !== 'object' || instance === null || !this.hasLockedMethod(instance)) {
        continue;
      }
      bindInstances(wrapper, this.locks);
    }
  }

  private hasLockedMethod(instance: object): boolean {
    const prototype = Object.getPrototypeOf(instance) as Record<string, unknown>;
    return this.scanner.getAllMethodNames(prototype).some((name) => {
      const method = prototype[name];
      return typeof method === 'function' && Reflect.hasOwnMetadata(LOCKED_METADATA, method);
    });
  }
}
