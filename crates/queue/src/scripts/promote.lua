-- Promotes due delayed jobs to waiting (updateDelaySet). KEYS[1]: `delayed` (routing).
-- ARGV: base, maxScore (now * 4096), token.
-- Returns the score of the earliest job still delayed, as text, or false.
local base, max_score, token = ARGV[1], ARGV[2], ARGV[3]
local delayed = base .. "delayed"
local due = redis.call("ZRANGEBYSCORE", delayed, 0, max_score, "LIMIT", 0, 1000)
if #due > 0 then
  redis.call("ZREM", delayed, unpack(due))
  for _, id in ipairs(due) do
    local job_key = base .. id
    redis.call("LREM", base .. "active", 0, id)
    local priority = tonumber(redis.call("HGET", job_key, "priority")) or 0
    push_waiting(base, id, priority, false)
    redis.call("PUBLISH", base .. "waiting@" .. token, id)
    redis.call("HSET", job_key, "delay", 0)
  end
end
local next_job = redis.call("ZRANGE", delayed, 0, 0, "WITHSCORES")
if next_job[2] then
  local score = tonumber(next_job[2])
  redis.call("PUBLISH", delayed, int_text(math.ceil(score / 4096)))
  return int_text(score)
end
return false
