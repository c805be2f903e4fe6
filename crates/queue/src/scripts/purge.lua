-- Deletes the given dead letters (hash, logs and every list/set entry), skipping locked ones.
-- KEYS[1]: the dead-letter queue's `wait` (routing). ARGV: deadLetterBase, ids...
-- Returns how many were deleted.
local dl_base = ARGV[1]
local deleted = 0
for i = 2, #ARGV do
  local id = ARGV[i]
  local key = dl_base .. id
  if redis.call("EXISTS", key .. ":lock") == 0 then
    for _, list in ipairs({ "wait", "paused", "active" }) do
      redis.call("LREM", dl_base .. list, 0, id)
    end
    for _, set in ipairs({ "delayed", "completed", "failed", "priority" }) do
      redis.call("ZREM", dl_base .. set, id)
    end
    drop_debounce(dl_base, key)
    deleted = deleted + redis.call("DEL", key)
    redis.call("DEL", key .. ":logs")
  end
end
return deleted
