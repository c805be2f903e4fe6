-- Sends dead letters back: removes each dead-letter job and adds its original job, atomically.
-- KEYS[1]: the dead-letter queue's `wait` (routing).
-- ARGV: deadLetterBase, token, count, then per letter: letterId, one ADD_FIELDS record.
-- Returns per letter the new job id, or false when the letter was gone (already replayed).
local dl_base, token = ARGV[1], ARGV[2]
local count = tonumber(ARGV[3])
local memo = new_add_memo()
for n = 0, count - 1 do
  local problem = add_problem_at(ARGV, 4 + n * (1 + ADD_FIELDS) + 1, memo)
  if problem then
    return redis.error_reply("GHADD " .. problem)
  end
end
local out = {}
local i = 4
for n = 1, count do
  local letter = ARGV[i]
  local letter_key = dl_base .. letter
  if redis.call("EXISTS", letter_key) == 1 and redis.call("EXISTS", letter_key .. ":lock") == 0 then
    for _, list in ipairs({ "wait", "paused", "active" }) do
      redis.call("LREM", dl_base .. list, 0, letter)
    end
    for _, set in ipairs({ "delayed", "completed", "failed", "priority" }) do
      redis.call("ZREM", dl_base .. set, letter)
    end
    drop_debounce(dl_base, letter_key)
    redis.call("DEL", letter_key, letter_key .. ":logs")
    out[n] = add_job_at(ARGV, i + 1, token, nil, memo)
  else
    out[n] = false
  end
  i = i + 1 + ADD_FIELDS
end
return out
