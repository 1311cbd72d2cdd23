export * from './locked.decorator.js';
