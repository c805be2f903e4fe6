-- Global pause / resume. KEYS[1]: `meta-paused` (routing). ARGV: base, "pause" | "resume".
local base, action = ARGV[1], ARGV[2]
if action == "pause" then
  if redis.call("EXISTS", base .. "wait") == 1 then
    redis.call("RENAME", base .. "wait", base .. "paused")
  end
  redis.call("SET", base .. "meta-paused", 1)
  redis.call("HSET", base .. "meta", "paused", 1)
  redis.call("PUBLISH", base .. "paused", "paused")
else
  if redis.call("EXISTS", base .. "paused") == 1 then
    redis.call("RENAME", base .. "paused", base .. "wait")
  end
  redis.call("DEL", base .. "meta-paused")
  redis.call("HDEL", base .. "meta", "paused")
  redis.call("PUBLISH", base .. "resumed", "resumed")
end
return 0
