import type { LoggerService } from '@nestjs/common';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { LockError, type LockOptions } from '../../lib';
import { bootLockApp } from '../support/app';
import { LOCK_ACL } from '../support/acl';
import { startRedisServer, type RedisServer } from '../support/redis-server';

function recordingLogger(lines: string[]): LoggerService {
  const record = (message: unknown): void => {
    lines.push(String(message));
  };
  return { log: record, warn: record, error: record, debug: record };
}

async function contendedRoundTrip(url: string, options: LockOptions = {}): Promise<void> {
  const first = await bootLockApp({ redis: url });
  const second = await bootLockApp({ redis: url });
  const held = await first.locks.acquire('acl', { ttl: 10_000, ...options });
  const others = options.limit
    ? await Promise.all(Array.from({ length: options.limit - 1 }, () => first.locks.acquire('acl', options)))
    : [];
  const waiting = second.locks.acquire('acl', { waitTimeout: 5_000, ...options, mode: options.mode && 'write' });
  await new Promise((resolve) => setTimeout(resolve, 100));
  const releasedAt = Date.now();
  await held.release();
  const handed = await waiting;
  expect(Date.now() - releasedAt).toBeLessThan(1_000);
  expect(handed.fencingToken).toBeGreaterThan(held.fencingToken);
  await Promise.all([handed.release(), ...others.map((other) => other.release())]);
  await Promise.all([first.app.close(), second.app.close()]);
}

describe('isolation and access', () => {
  it('keeps two apps with different prefixes apart', async () => {
    const server = await startRedisServer();
    const tenantA = await bootLockApp({ redis: server.url, prefix: 'tenant-a:' });
    const tenantB = await bootLockApp({ redis: server.url, prefix: 'tenant-b:' });
    const a = await tenantA.locks.acquire('same-key', { waitTimeout: 0 });
    const b = await tenantB.locks.acquire('same-key', { waitTimeout: 0 });
    expect(await a.release()).toBe(true);
    expect(b.isHeld).toBe(true);
    expect(await tenantB.locks.isLocked('same-key')).toBe(true);
    expect(await tenantA.locks.isLocked('same-key')).toBe(false);
    await b.release();
    await Promise.all([tenantA.app.close(), tenantB.app.close()]);
    await server.stop();
  });

  describe('with an ACL user limited to the lock keys and channels', () => {
    let server: RedisServer;

    beforeAll(async () => {
      server = await startRedisServer();
      const admin = new Redis(server.url);
      await admin.call('ACL', 'SETUSER', 'nest-lock', ...LOCK_ACL);
      await admin.quit();
    });

    afterAll(async () => {
      await server.stop();
    });

    it('locks, waits, hands over and releases', async () => {
      await contendedRoundTrip(`redis://nest-lock:lock-user-password@127.0.0.1:${server.port}`);
    });

    it('does the same with semaphore permits, and with a reader that a writer waits for', async () => {
      await contendedRoundTrip(`redis://nest-lock:lock-user-password@127.0.0.1:${server.port}`, { limit: 3 });
      await contendedRoundTrip(`redis://nest-lock:lock-user-password@127.0.0.1:${server.port}`, { mode: 'read' });
    });

    it('works as well for a user that may not load scripts (an ACL line written before script|load was in it)', async () => {
      const admin = new Redis(server.url);
      await admin.call('ACL', 'SETUSER', 'no-script-load', ...LOCK_ACL.filter((rule) => rule !== '+script|load'), '>other-password');
      await admin.quit();
      await contendedRoundTrip(`redis://no-script-load:other-password@127.0.0.1:${server.port}`);
    });

    it('is really limited: it may not touch other keys', async () => {
      const limited = new Redis(`redis://nest-lock:lock-user-password@127.0.0.1:${server.port}`);
      await expect(limited.get('app:secret')).rejects.toThrow(/NOPERM/);
      limited.disconnect();
    });
  });

  describe('with a password-protected Redis', () => {
    let server: RedisServer;

    beforeAll(async () => {
      server = await startRedisServer(['--requirepass', 'p4ss-w0rd-never-shown'], { password: 'p4ss-w0rd-never-shown' });
    });

    afterAll(async () => {
      await server.stop();
    });

    it('works with the password in the URL', async () => {
      await contendedRoundTrip(`redis://:p4ss-w0rd-never-shown@127.0.0.1:${server.port}`);
    });

    it('never shows the password in logs or error messages', async () => {
      const lines: string[] = [];
      const wrong = await bootLockApp({
        redis: `redis://:wrong-p4ss-w0rd@127.0.0.1:${server.port}`,
        commandTimeout: 300,
        logger: recordingLogger(lines),
      });
      const error = await wrong.locks.acquire('k', { waitTimeout: 300 }).catch((e: unknown) => e);
      await wrong.app.close();
      expect(error).toBeInstanceOf(LockError);
      expect((error as Error).message).toMatch(/WRONGPASS|NOAUTH/);
      const everything = [(error as Error).message, String((error as Error).cause), ...lines].join('\n');
      expect(everything).not.toMatch(/wrong-p4ss-w0rd|p4ss-w0rd-never-shown/);
      expect(lines.length).toBeGreaterThan(0);
    });
  });

  describe('over TLS (self-signed certificate made by the test)', () => {
    let server: RedisServer;
    let dir: string;
    let ca: Buffer;

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'nest-lock-tls-'));
      execFileSync(
        'openssl',
        [
          'req',
          '-x509',
          '-newkey',
          'rsa:2048',
          '-nodes',
          '-days',
          '1',
          '-subj',
          '/CN=127.0.0.1',
          '-addext',
          'subjectAltName=IP:127.0.0.1',
          '-keyout',
          join(dir, 'key.pem'),
          '-out',
          join(dir, 'cert.pem'),
        ],
        { stdio: 'ignore' },
      );
      ca = readFileSync(join(dir, 'cert.pem'));
      server = await startRedisServer(
        (port) => [
          '--port',
          '0',
          '--tls-port',
          String(port),
          '--tls-cert-file',
          join(dir, 'cert.pem'),
          '--tls-key-file',
          join(dir, 'key.pem'),
          '--tls-ca-cert-file',
          join(dir, 'cert.pem'),
          '--tls-auth-clients',
          'no',
        ],
        { tls: { ca } },
      );
    });

    afterAll(async () => {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    it('locks, waits, hands over and releases over a verified TLS connection', async () => {
      const tls = { host: '127.0.0.1', port: server.port, tls: { ca } };
      const first = await bootLockApp({ redis: tls });
      const second = await bootLockApp({ redis: tls });
      const held = await first.locks.acquire('tls');
      const waiting = second.locks.acquire('tls', { waitTimeout: 5_000 });
      await new Promise((resolve) => setTimeout(resolve, 100));
      await held.release();
      const handed = await waiting;
      expect(handed.fencingToken).toBeGreaterThan(held.fencingToken);
      await handed.release();
      await Promise.all([first.app.close(), second.app.close()]);
    });
  });
});
