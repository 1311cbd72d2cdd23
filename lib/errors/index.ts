export * from './lock.error.js';
export * from './lock-not-acquired.error.js';
export * from './lock-lost.error.js';
export * from './invalid-lock-options.error.js';
export * from './lock-store-unavailable.error.js';
export * from './lock-not-replicated.error.js';
