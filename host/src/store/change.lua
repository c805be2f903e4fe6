-- One change of a guild's plugin in the store, all or nothing.
-- KEYS: 1 guild hash, 2 guild set, 3 blob reference counts, 4 revision, 5 change stream
-- ARGV: 1 plugin name, 2 record as read ('' = none), 3 new record ('' = delete), 4 guild id,
--       5 action, 6 blob key prefix, 7 stream length, 8 count of blobs to reference,
--       then those blobs, then the blobs no longer referenced.
-- Returns the new revision, -1 when the record changed since it was read, -2 when a blob to
-- reference is gone.
local current = redis.call('HGET', KEYS[1], ARGV[1]) or ''
if current ~= ARGV[2] then return -1 end
local added = tonumber(ARGV[8])
for i = 1, added do
  if redis.call('EXISTS', ARGV[6] .. ARGV[8 + i]) == 0 then return -2 end
end
for i = 1, added do
  redis.call('HINCRBY', KEYS[3], ARGV[8 + i], 1)
  redis.call('PERSIST', ARGV[6] .. ARGV[8 + i])
end
for i = 9 + added, #ARGV do
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
else
  redis.call('SADD', KEYS[2], ARGV[4])
end
local revision = redis.call('INCR', KEYS[4])
redis.call('XADD', KEYS[5], 'MAXLEN', '~', ARGV[7], '*',
  'guild', ARGV[4], 'plugin', ARGV[1], 'action', ARGV[5], 'revision', revision)
return revision
