// An ES module consumer app (Nest 12 is ESM-only): the package as a user installs it, imported by name.
import 'reflect-metadata';
import * as common from '@nestjs/common';
import * as core from '@nestjs/core';
import * as nestLock from 'nest-lock';
import { LockModule, LockService, Locked, LockNotAcquiredError } from 'nest-lock';
import * as testing from 'nest-lock/testing';
import { LockFaults, LockTestingModule } from 'nest-lock/testing';
import checks from './checks.cjs';
import testingChecks from './testing-checks.cjs';

if (
  ![LockModule, LockService, Locked, LockNotAcquiredError, LockTestingModule, LockFaults].every((symbol) => typeof symbol === 'function')
) {
  throw new Error('named ESM imports of nest-lock are missing');
}
await checks.runChecks({ common, core, nestLock, prefix: `compat-esm-${process.pid}:` });
await testingChecks.runTestingChecks({ common, core, nestLock, testing });
