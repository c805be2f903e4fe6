-- Gives jobs back without consuming an attempt (graceful shutdown): for each job whose lock we
-- hold, release the lock and put it at the head of the queue so the next worker takes it first.
-- KEYS[1]: `active` (routing). ARGV: base, token, ids... Returns 1 per id released, else 0.
local base, token = ARGV[1], ARGV[2]
local out = {}
for i = 3, #ARGV do
  local id = ARGV[i]
  local released = 0
  if redis.call("GET", base .. id .. ":lock") == token then
    release_lock(base, id, token)
    if redis.call("LREM", base .. "active", -1, id) > 0 then
      local priority = tonumber(redis.call("HGET", base .. id, "priority")) or 0
      local target = target_list(base)
      if priority > 0 then
        priority_insert(base, target, id, priority)
      else
        redis.call("RPUSH", target, id)
      end
      redis.call("PUBLISH", base .. "waiting@" .. token, id)
      released = 1
    end
  end
  out[#out + 1] = released
end
return out
