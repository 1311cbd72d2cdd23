export * from './lock-health.indicator.js';
