/** The ACL line docs/operations.md gives: only the lock's keys and channels, and the commands the library runs. */
export const LOCK_ACL = [
  'on',
  '>lock-user-password',
  'resetkeys',
  '~lock:*',
  'resetchannels',
  '&lock:*',
  '-@all',
  ...['evalsha', 'eval', 'exists', 'get', 'set', 'del', 'pexpire', 'pttl', 'time', 'publish', 'subscribe', 'unsubscribe'],
  ...[
    'zadd',
    'zrem',
    'zrange',
    'zrangebyscore',
    'zremrangebyscore',
    'zscore',
    'zcard',
    'zrank',
    'ping',
    'info',
    'client|setname',
    'script|load',
  ],
].map((rule) => (/^[a-z]/.test(rule) && rule !== 'on' && rule !== 'resetkeys' && rule !== 'resetchannels' ? `+${rule}` : rule));

/** What docs/operations.md adds to {@link LOCK_ACL} for a Redis Cluster: sharded pub/sub, and reading the topology. */
export const CLUSTER_LOCK_ACL = ['+spublish', '+ssubscribe', '+sunsubscribe', '+cluster|slots', '+cluster|info'];
