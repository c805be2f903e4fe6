-- removeDelayed: drops a job that is still waiting for its time, and nothing else (a job that
-- is already waiting, active or finished is left alone).
-- KEYS[1]: `delayed` (routing). ARGV: base, jobId. Returns 1 when the job was delayed.
local base, id = ARGV[1], ARGV[2]
if redis.call("ZREM", base .. "delayed", id) == 0 then
  return 0
end
drop_debounce(base, base .. id)
redis.call("DEL", base .. id, base .. id .. ":logs")
return 1
