export * from './redis-lock.store.js';
export * from './memory-lock.store.js';
export * from './quorum-lock.store.js';
