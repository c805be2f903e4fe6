-- moveToActive for several jobs. KEYS[1]: `wait` (routing).
-- ARGV: base, token, lockMillis, now, count, poppedId ("" when none was popped by BRPOPLPUSH),
-- publishAlways ("1": publish every event, see new_hears).
-- Returns a list of {id, fields}, packed with cmsgpack (one bulk string for the whole batch, far
-- cheaper to read than RESP's element per field); an empty fields list means the id had no hash
-- and was removed.
local base, token, lock_ms, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local count = tonumber(ARGV[5])
local popped = ARGV[6]
local hears = new_hears(ARGV[7] == "1")
local out = {}
if popped ~= "" then
  redis.call("SREM", base .. "stalled", popped)
  out[1] = activate(base, popped, token, lock_ms, now, nil, hears)
end
take_jobs(base, token, lock_ms, now, count, out, popped == "", hears)
return cmsgpack.pack(out)
