-- extendLock for several jobs. KEYS[1]: `stalled` (routing).
-- ARGV: base, token, lockMillis, ids... Returns 1 per id whose lock we still held (renewed), else 0.
local base, token, lock_ms = ARGV[1], ARGV[2], ARGV[3]
local out = {}
for i = 4, #ARGV do
  local id = ARGV[i]
  local lock_key = base .. id .. ":lock"
  if redis.call("GET", lock_key) == token then
    redis.call("SET", lock_key, token, "PX", lock_ms)
    redis.call("SREM", base .. "stalled", id)
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
end
return out
