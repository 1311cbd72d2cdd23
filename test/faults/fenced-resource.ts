/**
 * The protected resource of the fencing tests: a Redis hash that accepts a write only if its fencing token is
 * not lower than the highest one it has seen, and counts the writes it rejected.
 * KEYS: the resource. ARGV: fencing token, value. Returns 1 if written, 0 if rejected.
 */
export const FENCED_WRITE = `
local highest = tonumber(redis.call('HGET', KEYS[1], 'fence') or '0')
if tonumber(ARGV[1]) < highest then
  redis.call('HINCRBY', KEYS[1], 'rejected', 1)
  return 0
end
redis.call('HSET', KEYS[1], 'fence', ARGV[1], 'value', ARGV[2])
return 1
`;
