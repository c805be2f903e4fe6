-- One change of a guild's plugin in the store, all or nothing.
-- KEYS: 1 guild hash, 2 guild set, 3 blob reference counts, 4 revision, 5 change stream,
--       6 per-guild revisions
-- ARGV: 1 plugin name, 2 record as read ('' = none), 3 new record ('' = delete), 4 guild id,
--       5 action, 6 blob key prefix, 7 stream length, 8 the guild's revision as read,
--       9 count of blobs to reference, then those blobs, then the blobs no longer referenced.
-- Returns the new revision; -1 when the guild changed since it was read (its quota was decided
-- on what was read, so any change of the guild's plugins counts); -2 - i when the i-th blob to
-- reference is gone.
local current = redis.call('HGET', KEYS[1], ARGV[1]) or ''
if current ~= ARGV[2] then return -1 end
local guild_revision = redis.call('HGET', KEYS[6], ARGV[4]) or '0'
if guild_revision ~= ARGV[8] then return -1 end
local added = tonumber(ARGV[9])
for i = 1, added do
  if redis.call('EXISTS', ARGV[6] .. ARGV[9 + i]) == 0 then return -2 - i end
end
for i = 1, added do
  redis.call('HINCRBY', KEYS[3], ARGV[9 + i], 1)
  redis.call('PERSIST', ARGV[6] .. ARGV[9 + i])
end
for i = 10 + added, #ARGV do
  if redis.call('HINCRBY', KEYS[3], ARGV[i], -1) <= 0 then
    redis.call('HDEL', KEYS[3], ARGV[i])
    redis.call('DEL', ARGV[6] .. ARGV[i])
  end
end
if ARGV[3] == '' then
  redis.call('HDEL', KEYS[1], ARGV[1])
else
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
end
if redis.call('HLEN', KEYS[1]) == 0 then
  redis.call('SREM', KEYS[2], ARGV[4])
  redis.call('HDEL', KEYS[6], ARGV[4])
else
  redis.call('SADD', KEYS[2], ARGV[4])
  redis.call('HINCRBY', KEYS[6], ARGV[4], 1)
end
local revision = redis.call('INCR', KEYS[4])
redis.call('XADD', KEYS[5], 'MAXLEN', '~', ARGV[7], '*',
  'guild', ARGV[4], 'plugin', ARGV[1], 'action', ARGV[5], 'revision', revision)
return revision
