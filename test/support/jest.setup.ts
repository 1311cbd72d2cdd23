import { REDIS_URL } from './redis';
import { guardRedisAddress } from './redis-guard';

// Jest runs specs in a vm context, which lacks the Symbol.asyncDispose Node 20 and 22 add to the main one: give it
// the same (registered) symbol, so that `await using` compiles to code that finds Lock's disposer.
(Symbol as { asyncDispose?: symbol }).asyncDispose ??= Symbol.for('nodejs.asyncDispose');

// Specs reach Redis only through REDIS_URL: a socket aimed at the default port by another address fails.
guardRedisAddress(REDIS_URL);
