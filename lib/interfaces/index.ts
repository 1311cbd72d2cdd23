export * from './lock-options.interface.js';
export * from './lock-store.interface.js';
export * from './lock-module-options.interface.js';
export * from './lock-event.interface.js';
export * from './lock-share.interface.js';
