-- Shared helpers of guildhost's Bull-compatible scripts. Prepended to every script by scripts.rs.
-- `base` is always "<prefix>:<queue>:"; every key is built from it, so with a hash-tagged prefix
-- all keys of all queues under that prefix live in one cluster slot.

-- Numbers above 1e14 lose digits when Redis formats them with %.14g: always format explicitly.
local function int_text(value)
  return string.format("%.0f", value)
end

-- Runs `command key member...` once per chunk of `members` small enough for unpack(). Batched
-- scripts collect per-job removals that nothing in the same script reads back and send them here:
-- the same final state with one call instead of one per job (each call costs Redis about 1 µs).
local function call_chunked(command, key, members)
  for first = 1, #members, 4000 do
    redis.call(command, key, unpack(members, first, math.min(first + 3999, #members)))
  end
end

-- Where new waiting jobs go: `paused` while the queue is globally paused, else `wait`.
local function target_list(base)
  if redis.call("EXISTS", base .. "meta-paused") == 1 then
    return base .. "paused"
  end
  return base .. "wait"
end

-- Bull's priority insert: prioritized jobs occupy the head (right end) of the list in order.
local function priority_insert(base, target, id, priority)
  redis.call("ZADD", base .. "priority", priority, id)
  local rank = redis.call("ZCOUNT", base .. "priority", 0, priority)
  local length = redis.call("LLEN", target)
  local pivot = redis.call("LINDEX", target, length - (rank - 1))
  if pivot then
    redis.call("LINSERT", target, "BEFORE", pivot, id)
  else
    redis.call("RPUSH", target, id)
  end
end

-- Pushes a job that became waiting: priority insert, or LPUSH (tail) / RPUSH (head, lifo).
local function push_waiting(base, id, priority, lifo)
  local target = target_list(base)
  if priority > 0 then
    priority_insert(base, target, id, priority)
  elseif lifo then
    redis.call("RPUSH", target, id)
  else
    redis.call("LPUSH", target, id)
  end
end

-- Number of ARGV entries describing one job to add (see add_job_at).
local ADD_FIELDS = 12

-- Adds one job described by ARGV[i .. i+11]:
-- base, customId, name, data, opts, timestamp, delay, priority, lifo ("1"), repeatMode
-- ("" | "add" | "next"), repeatKey, repeatNextMillis.
-- repeatMode "next" adds only while the repeat key is still registered (the series was not removed).
-- Returns the job id, or false when a "next" iteration was skipped.
local function add_job_at(argv, i, token)
  local base = argv[i]
  local custom_id = argv[i + 1]
  local repeat_mode = argv[i + 9]
  if repeat_mode ~= "" then
    local repeat_key = argv[i + 10]
    if repeat_mode == "next" and not redis.call("ZSCORE", base .. "repeat", repeat_key) then
      return false
    end
    redis.call("ZADD", base .. "repeat", argv[i + 11], repeat_key)
  end
  local counter = redis.call("INCR", base .. "id")
  local id = custom_id
  if id == "" then
    id = tostring(counter)
  elseif redis.call("EXISTS", base .. id) == 1 then
    redis.call("PUBLISH", base .. "duplicated@" .. token, id)
    return id
  end
  local timestamp = argv[i + 5]
  local delay = tonumber(argv[i + 6]) or 0
  local priority = tonumber(argv[i + 7]) or 0
  redis.call("HSET", base .. id, "name", argv[i + 2], "data", argv[i + 3], "opts", argv[i + 4],
    "timestamp", timestamp, "delay", argv[i + 6], "priority", argv[i + 7])
  if delay > 0 then
    local due = (tonumber(timestamp) or 0) + delay
    redis.call("ZADD", base .. "delayed", int_text(due * 4096 + (counter % 4096)), id)
    redis.call("PUBLISH", base .. "delayed", int_text(due))
  else
    push_waiting(base, id, priority, argv[i + 8] == "1")
    redis.call("PUBLISH", base .. "waiting@" .. token, id)
  end
  return id
end

-- Checks and releases the lock of a job held by `token` ("0" skips the check).
-- Returns 0, or Bull's codes -2 (no lock) / -6 (held by another token).
-- With `unstalled`, the id is appended there for one `SREM stalled` later (see call_chunked)
-- instead of being removed from `stalled` at once.
local function release_lock(base, id, token, unstalled)
  if token == "0" then
    return 0
  end
  local lock_key = base .. id .. ":lock"
  local holder = redis.call("GET", lock_key)
  if holder == token then
    redis.call("DEL", lock_key)
    if unstalled then
      unstalled[#unstalled + 1] = id
    else
      redis.call("SREM", base .. "stalled", id)
    end
    return 0
  end
  if holder then
    return -6
  end
  return -2
end

-- Deletes the hashes and logs of the given job ids in chunks small enough for unpack().
local function delete_jobs(base, ids)
  local keys = {}
  for _, id in ipairs(ids) do
    keys[#keys + 1] = base .. id
    keys[#keys + 1] = base .. id .. ":logs"
    if #keys >= 4000 then
      redis.call("DEL", unpack(keys))
      keys = {}
    end
  end
  if #keys > 0 then
    redis.call("DEL", unpack(keys))
  end
end

-- Frees the debounce slot a job owns, unless that slot still has a TTL (Bull's rule).
local function release_debounce(base, job_key)
  local debounce_id = redis.call("HGET", job_key, "deid")
  if debounce_id then
    local debounce_key = base .. "de:" .. debounce_id
    local ttl = redis.call("PTTL", debounce_key)
    if ttl == -1 or ttl == 0 then
      redis.call("DEL", debounce_key)
    end
  end
end

-- Records a finished job in `completed`/`failed` with KeepJobs retention (count 0 deletes it).
local function finish_with_retention(base, set_name, id, finished_on, field, value, count, age)
  local job_key = base .. id
  if count == 0 then
    redis.call("DEL", job_key, job_key .. ":logs")
    return
  end
  local set = base .. set_name
  redis.call("ZADD", set, finished_on, id)
  if field then
    redis.call("HSET", job_key, field, value, "finishedOn", finished_on)
  else
    redis.call("HSET", job_key, "finishedOn", finished_on)
  end
  if age > 0 then
    local limit = int_text((tonumber(finished_on) or 0) - age * 1000)
    local old = redis.call("ZRANGEBYSCORE", set, "-inf", limit)
    if #old > 0 then
      delete_jobs(base, old)
      redis.call("ZREMRANGEBYSCORE", set, "-inf", limit)
    end
  end
  if count > 0 then
    local old = redis.call("ZREVRANGE", set, count, -1)
    if #old > 0 then
      delete_jobs(base, old)
      redis.call("ZREMRANGEBYRANK", set, 0, -(count + 1))
    end
  end
end

-- cjson.encode of a string, without calling it when nothing needs escaping: the same bytes, since
-- cjson escapes exactly the control characters (%c), '"', '\\' and '/'.
local function json_string(text)
  if string.find(text, '[%c"\\/]') then
    return cjson.encode(text)
  end
  return '"' .. text .. '"'
end

-- The Bull event message {"jobId":"<id>","val":"<text>"} with the value as a JSON string.
local function finished_message(id, value)
  return '{"jobId":' .. json_string(id) .. ',"val":' .. json_string(value) .. '}'
end

-- Moves a job into `active` for `token`: returns {id, fields}, or {id, {}} after cleaning up an
-- id whose hash is gone (Node would leave such an id locked in `active` forever).
-- With `unprioritized`, the id is appended there for one `ZREM priority` later (see call_chunked).
local function activate(base, id, token, lock_ms, now, unprioritized)
  local job_key = base .. id
  local fields = redis.call("HGETALL", job_key)
  if #fields == 0 then
    redis.call("LREM", base .. "active", -1, id)
    redis.call("SREM", base .. "stalled", id)
    redis.call("ZREM", base .. "priority", id)
    return { id, fields }
  end
  redis.call("SET", job_key .. ":lock", token, "PX", lock_ms)
  if unprioritized then
    unprioritized[#unprioritized + 1] = id
  else
    redis.call("ZREM", base .. "priority", id)
  end
  redis.call("PUBLISH", base .. "active@" .. token, id)
  redis.call("HSET", job_key, "processedOn", now)
  return { id, fields }
end

-- Takes up to `count` waiting jobs (right end of `wait` first) into `out`.
-- Publishes `drained` when `announce_drained` and the queue ran out of waiting jobs.
local function take_jobs(base, token, lock_ms, now, count, out, announce_drained)
  local unprioritized = {}
  for i = 1, count do
    local id = redis.call("RPOPLPUSH", base .. "wait", base .. "active")
    if not id then
      if announce_drained then
        redis.call("PUBLISH", base .. "drained", "")
      end
      break
    end
    out[#out + 1] = activate(base, id, token, lock_ms, now, unprioritized)
  end
  call_chunked("ZREM", base .. "priority", unprioritized)
end

-- Redis does not roll a script back when a command fails, so every key an added job will touch
-- is checked first: returns nil, or a message naming the key whose type would make the add fail.
local function add_problem_at(argv, i)
  local base, custom_id = argv[i], argv[i + 1]
  local expected = {
    { base .. "id", "string" },
    { base .. "wait", "list" },
    { base .. "paused", "list" },
    { base .. "delayed", "zset" },
    { base .. "priority", "zset" },
  }
  if custom_id ~= "" then
    expected[#expected + 1] = { base .. custom_id, "hash" }
  end
  if argv[i + 9] ~= "" then
    expected[#expected + 1] = { base .. "repeat", "zset" }
  end
  for _, pair in ipairs(expected) do
    local kind = redis.call("TYPE", pair[1])["ok"]
    if kind ~= "none" and kind ~= pair[2] then
      return "key " .. pair[1] .. " holds a " .. kind .. ", not a " .. pair[2]
    end
  end
  local counter = redis.call("GET", base .. "id")
  if counter and not string.match(counter, "^%-?%d+$") then
    return "key " .. base .. "id is not an integer counter"
  end
  return nil
end
