-- removeRepeatableByKey: drops the series and its pending iteration while it is still delayed
-- (as Bull does: an iteration already moved to `wait` keeps its hash and runs).
-- KEYS[1]: `repeat` (routing). ARGV: base, repeatKey, pendingIdPrefix ("repeat:<md5>:").
-- Returns 1 when the series existed.
local base, repeat_key, id_prefix = ARGV[1], ARGV[2], ARGV[3]
local millis = redis.call("ZSCORE", base .. "repeat", repeat_key)
if not millis then
  return 0
end
local pending = id_prefix .. millis
if redis.call("ZREM", base .. "delayed", pending) == 1 then
  drop_debounce(base, base .. pending)
  redis.call("DEL", base .. pending, base .. pending .. ":logs")
end
redis.call("ZREM", base .. "repeat", repeat_key)
return 1
