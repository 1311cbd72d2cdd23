import { Redis } from 'ioredis';
import { LockError, LockStoreUnavailableError, RedisLockStore } from '../../lib';
import { explainStoreFailure } from '../../lib/utils/store-failure.util';

/** An error as Node's network, DNS and TLS layers make them. */
function systemError(message: string, fields: Record<string, unknown>): Error {
  return Object.assign(new Error(message), fields);
}

describe('what a store failure names as its cause', () => {
  it.each([
    [systemError('connect ETIMEDOUT', { code: 'ETIMEDOUT' }), 'was unreachable: connecting timed out', /firewall/],
    [
      systemError('x', { code: 'EHOSTUNREACH', address: '10.0.0.9', port: 6379 }),
      'was unreachable: no route to 10.0.0.9:6379 (EHOSTUNREACH)',
      /network/,
    ],
    [systemError('read ECONNRESET', { code: 'ECONNRESET' }), 'was unreachable: the connection was reset (ECONNRESET)', /Redis is up/],
    [
      systemError('self-signed certificate', { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' }),
      'was unreachable: the TLS handshake failed (self-signed certificate)',
      /tls\.ca/,
    ],
    [
      systemError('Hostname/IP does not match', { code: 'ERR_TLS_CERT_ALTNAME_INVALID' }),
      'was unreachable: the TLS handshake failed (Hostname/IP does not match)',
      /host name/,
    ],
    [
      systemError('getaddrinfo EAI_AGAIN redis', { code: 'EAI_AGAIN', hostname: 'redis' }),
      'was unreachable: the host name "redis" did not resolve (DNS: EAI_AGAIN)',
      /DNS/,
    ],
    [
      Object.assign(new Error('NOPERM no permissions to run the ping command'), { name: 'ReplyError' }),
      'refused the command (NOPERM no permissions to run the ping command)',
      /permissions/,
    ],
    [new Error('something else\nwith a second line'), 'was unreachable (something else)', /Redis is up/],
  ])('%s', (error, reason, advice) => {
    const failure = explainStoreFailure(error);
    expect(failure.reason).toBe(reason);
    expect(failure.advice).toMatch(advice);
  });

  it('names the innermost cause once, through the lock errors and timeouts wrapped around it', () => {
    const refused = systemError('connect ECONNREFUSED 127.0.0.1:6390', { code: 'ECONNREFUSED', address: '127.0.0.1', port: 6390 });
    const timedOut = new Error('no answer within 300 ms', { cause: refused });
    const error = new LockStoreUnavailableError('start', new LockStoreUnavailableError('ping', timedOut));
    expect(error.message).toBe(
      'Could not start: the lock store (Redis) was unreachable: connection refused by 127.0.0.1:6390. Check that Redis runs at that address and port.',
    );
  });

  it('is the connection’s own error, not ioredis’ "max retries per request", for an operation while Redis is down', async () => {
    const client = new Redis('redis://127.0.0.1:1', { lazyConnect: true, maxRetriesPerRequest: 1 });
    const store = new RedisLockStore({ client, ownsClient: true, logger: false, commandTimeout: 2_000 });
    const error = await store.isLocked(['k']).catch((caught: unknown) => caught);
    await store.close();
    expect(error).toBeInstanceOf(LockStoreUnavailableError);
    expect((error as LockError).message).toMatch(
      /^Could not check lock "k": the lock store \(Redis\) was unreachable: connection refused by 127\.0\.0\.1:1\./,
    );
    expect((error as LockError).message).not.toMatch(/max retries/);
  });
});
