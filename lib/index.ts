export * from './locked/locked.decorator.js';
export * from './errors/index.js';
export * from './interfaces/index.js';
export * from './stores/index.js';
export { LockModule } from './lock.module.js';
export { LockService } from './core/lock.service.js';
export { Lock } from './core/lock.js';
export { LOCK_MODULE_OPTIONS, LOCKED_METADATA } from './lock.constants.js';
