-- Writes a handler's notes on a job it holds: fields `gh:<name>` of the job hash, kept with the
-- job (a retry, or another worker after a crash, reads them back with the job) and ignored by
-- Bull. KEYS[1]: the job hash; KEYS[2]: its lock.
-- ARGV: token, then name/value pairs.
-- Returns 1, or 0 when the lock is not ours (or the job is gone): nothing written then.
if redis.call("GET", KEYS[2]) ~= ARGV[1] or redis.call("EXISTS", KEYS[1]) == 0 then
  return 0
end
for n = 2, #ARGV - 1, 2 do
  redis.call("HSET", KEYS[1], "gh:" .. ARGV[n], ARGV[n + 1])
end
return 1
