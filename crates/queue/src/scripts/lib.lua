-- Shared helpers of guildhost's Bull-compatible scripts. Prepended to every script by scripts.rs.
-- `base` is always "<prefix>:<queue>:"; every key is built from it, so with a hash-tagged prefix
-- all keys of all queues under that prefix live in one cluster slot.

-- Numbers above 1e14 lose digits when Redis formats them with %.14g: always format explicitly.
local function int_text(value)
  return string.format("%.0f", value)
end

-- Runs `command key member...` (or `command member...` when `key` is nil) once per chunk of
-- `members` small enough for unpack(). Batched scripts collect per-job removals that nothing in
-- the same script reads back and send them here: the same final state with one call instead of
-- one per job (each call costs Redis about 1 µs).
local function call_chunked(command, key, members)
  for first = 1, #members, 4000 do
    local last = math.min(first + 3999, #members)
    if key then
      redis.call(command, key, unpack(members, first, last))
    else
      redis.call(command, unpack(members, first, last))
    end
  end
end

-- MGET of `keys` in chunks small enough for unpack(); the values in order.
local function mget_chunked(keys)
  local values = {}
  for first = 1, #keys, 4000 do
    local chunk = redis.call("MGET", unpack(keys, first, math.min(first + 3999, #keys)))
    for k = 1, #chunk do
      values[#values + 1] = chunk[k]
    end
  end
  return values
end

-- Deferred writes of a batched completion: ids leaving `stalled` and keys to delete (released
-- locks, removed jobs), each sent in one call by flush_batch. `released` remembers whose lock
-- this script already released, so a lock check stays exact while the DEL is pending.
local function new_batch()
  return { unstalled = {}, doomed = {}, released = {} }
end

-- Applies a batch's deferred deletions. Called before anything that could read or recreate one
-- of the doomed keys (an output added to the same queue, taking more jobs) and at the end.
local function flush_batch(base, batch)
  call_chunked("DEL", nil, batch.doomed)
  batch.doomed = {}
  call_chunked("SREM", base .. "stalled", batch.unstalled)
  batch.unstalled = {}
end

-- Bull's events go out only where someone listens, as Node subscribes only to the events it has
-- listeners for: a PUBLISH that nobody receives has no effect, and skipping it saves Redis a call
-- per job. Returns `hears(channel)`, answering once per channel per script. `PUBSUB` counts this
-- node's subscribers only, so on a cluster (where PUBLISH reaches every node) `always` is set.
local function new_hears(always)
  if always or redis.call("PUBSUB", "NUMPAT") > 0 then
    return function()
      return true
    end
  end
  local heard = {}
  return function(channel)
    local known = heard[channel]
    if known == nil then
      known = redis.call("PUBSUB", "NUMSUB", channel)[2] > 0
      heard[channel] = known
    end
    return known
  end
end

-- `hears` for scripts that publish once or twice: asking would cost as much as publishing.
local function hears_all()
  return true
end

-- What one script learns about the queues it adds jobs to, valid until it returns: the queues
-- whose keys' types were checked (the script itself writes only keys of the right types) and
-- the list each queue's new jobs go to (no script that adds jobs also pauses or resumes a
-- queue). A batch adding many jobs asks Redis once per queue instead of seven times per job.
local function new_add_memo()
  return { checked = {}, targets = {} }
end

-- Where new waiting jobs go: `paused` while the queue is globally paused, else `wait`.
-- `memo` (new_add_memo, may be nil) remembers the answer for the rest of the script.
local function target_list(base, memo)
  local known = memo and memo.targets[base]
  if known then
    return known
  end
  local target = base .. "wait"
  if redis.call("EXISTS", base .. "meta-paused") == 1 then
    target = base .. "paused"
  end
  if memo then
    memo.targets[base] = target
  end
  return target
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
local function push_waiting(base, id, priority, lifo, memo)
  local target = target_list(base, memo)
  if priority > 0 then
    priority_insert(base, target, id, priority)
  elseif lifo then
    redis.call("RPUSH", target, id)
  else
    redis.call("LPUSH", target, id)
  end
end

-- Number of ARGV entries describing one job to add (see add_job_at).
local ADD_FIELDS = 14

-- Adds one job described by ARGV[i .. i+13]:
-- base, customId, name, data, opts, timestamp, delay, priority, lifo ("1"), repeatMode
-- ("" | "add" | "next"), repeatKey, repeatNextMillis, debounceId ("" for none), debounceTtl
-- (ms, "0" for none).
-- repeatMode "next" adds only while the repeat key is still registered (the series was not removed).
-- As Bull's addJob: a job whose debounce slot (`de:<id>`) is taken is not added; the id of the
-- job holding the slot is returned and `debounced@<token>` published.
-- Returns the job id, or false when a "next" iteration was skipped. `hears` (new_hears) decides
-- which events are published; all of them when it is nil. `memo`: see new_add_memo (may be nil).
local function add_job_at(argv, i, token, hears, memo)
  hears = hears or hears_all
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
  local debounce_id = argv[i + 12]
  if debounce_id ~= "" then
    local slot = base .. "de:" .. debounce_id
    local taken
    if argv[i + 13] ~= "0" then
      taken = redis.call("SET", slot, id, "PX", argv[i + 13], "NX")
    else
      taken = redis.call("SET", slot, id, "NX")
    end
    if not taken then
      local holder = redis.call("GET", slot)
      redis.call("PUBLISH", base .. "debounced@" .. token, holder)
      return holder
    end
  end
  local timestamp = argv[i + 5]
  local delay = tonumber(argv[i + 6]) or 0
  local priority = tonumber(argv[i + 7]) or 0
  redis.call("HSET", base .. id, "name", argv[i + 2], "data", argv[i + 3], "opts", argv[i + 4],
    "timestamp", timestamp, "delay", argv[i + 6], "priority", argv[i + 7])
  if debounce_id ~= "" then
    redis.call("HSET", base .. id, "deid", debounce_id)
  end
  if delay > 0 then
    local due = (tonumber(timestamp) or 0) + delay
    redis.call("ZADD", base .. "delayed", int_text(due * 4096 + (counter % 4096)), id)
    if hears(base .. "delayed") then
      redis.call("PUBLISH", base .. "delayed", int_text(due))
    end
  else
    push_waiting(base, id, priority, argv[i + 8] == "1", memo)
    if hears(base .. "waiting@" .. token) then
      redis.call("PUBLISH", base .. "waiting@" .. token, id)
    end
  end
  return id
end

-- Checks and releases the lock of a job held by `token` ("0" skips the check).
-- Returns 0, or Bull's codes -2 (no lock) / -6 (held by another token).
local function release_lock(base, id, token)
  if token == "0" then
    return 0
  end
  local lock_key = base .. id .. ":lock"
  local holder = redis.call("GET", lock_key)
  if holder == token then
    redis.call("DEL", lock_key)
    redis.call("SREM", base .. "stalled", id)
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

-- Frees the debounce slot `debounce_id` (a job's `deid`, may be nil) unless that slot still has
-- a TTL (Bull's rule).
local function free_debounce(base, debounce_id)
  if debounce_id then
    local debounce_key = base .. "de:" .. debounce_id
    local ttl = redis.call("PTTL", debounce_key)
    if ttl == -1 or ttl == 0 then
      redis.call("DEL", debounce_key)
    end
  end
end

-- Frees the debounce slot a job owns (see free_debounce).
local function release_debounce(base, job_key)
  free_debounce(base, redis.call("HGET", job_key, "deid"))
end

-- Frees the debounce slot of a job about to be deleted, TTL or not (Bull's removeDebounceKey):
-- a slot must not outlive the job it points to.
local function drop_debounce(base, job_key)
  local debounce_id = redis.call("HGET", job_key, "deid")
  if debounce_id then
    redis.call("DEL", base .. "de:" .. debounce_id)
  end
end

-- Records a finished job in `completed`/`failed` with KeepJobs retention (count 0 deletes it,
-- deferred to flush_batch when a `batch` is given; age -1 is no age limit, and age 0, as in
-- Bull, removes everything finished by now, this job included).
local function finish_with_retention(base, set_name, id, finished_on, field, value, count, age, batch)
  local job_key = base .. id
  if count == 0 then
    if batch then
      batch.doomed[#batch.doomed + 1] = job_key
      batch.doomed[#batch.doomed + 1] = job_key .. ":logs"
    else
      redis.call("DEL", job_key, job_key .. ":logs")
    end
    return
  end
  local set = base .. set_name
  redis.call("ZADD", set, finished_on, id)
  if field then
    redis.call("HSET", job_key, field, value, "finishedOn", finished_on)
  else
    redis.call("HSET", job_key, "finishedOn", finished_on)
  end
  if age >= 0 then
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

-- Bull's collectMetrics for `n` jobs finished at `now`, into `metrics:<kind>` (count, prevTS,
-- prevCount) and its per-minute list `metrics:<kind>:data` (newest first, at most `max_points`).
-- Every job of one script call shares `now`, so only the first can open a new minute: the same
-- state as n calls of Bull's. Counting must never cost a job its completion, so a metrics key of
-- the wrong type (Redis errors are not rolled back) only skips the counting.
local function collect_metrics(base, kind, max_points, now, n)
  if max_points <= 0 or n <= 0 then
    return
  end
  local meta = base .. "metrics:" .. kind
  local total = redis.pcall("HINCRBY", meta, "count", n)
  if type(total) ~= "number" then
    return
  end
  local before = total - n
  local prev_ts = tonumber(redis.call("HGET", meta, "prevTS"))
  if not prev_ts then
    redis.call("HSET", meta, "prevTS", now, "prevCount", 0)
    return
  end
  local minutes = math.min(math.floor(now / 60000) - math.floor(prev_ts / 60000), max_points)
  if minutes > 0 then
    local points = { before - (tonumber(redis.call("HGET", meta, "prevCount")) or 0) }
    for k = 2, minutes do
      points[k] = 0
    end
    local data = meta .. ":data"
    for first = 1, #points, 4000 do
      redis.pcall("LPUSH", data, unpack(points, first, math.min(first + 3999, #points)))
    end
    redis.pcall("LTRIM", data, 0, max_points - 1)
    redis.call("HSET", meta, "prevCount", before, "prevTS", now)
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
local function activate(base, id, token, lock_ms, now, unprioritized, hears)
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
  if hears(base .. "active@" .. token) then
    redis.call("PUBLISH", base .. "active@" .. token, id)
  end
  redis.call("HSET", job_key, "processedOn", now)
  return { id, fields }
end

-- Takes up to `count` waiting jobs (right end of `wait` first) into `out`.
-- Publishes `drained` when `announce_drained` and no job was waiting (as Bull: not when fewer
-- than `count` were).
-- The ids move in three calls (LRANGE, LTRIM, one LPUSH) instead of one RPOPLPUSH each, leaving
-- `wait` and `active` exactly as that many RPOPLPUSHes would.
local function take_jobs(base, token, lock_ms, now, count, out, announce_drained, hears)
  if count <= 0 then
    return
  end
  local wait = base .. "wait"
  local ids = redis.call("LRANGE", wait, -count, -1)
  if #ids == 0 and announce_drained and hears(base .. "drained") then
    redis.call("PUBLISH", base .. "drained", "")
  end
  if #ids == 0 then
    return
  end
  redis.call("LTRIM", wait, 0, -(#ids + 1))
  -- RPOPLPUSH pops the rightmost id first and pushes each onto the head of `active`, so `active`
  -- ends with ids[1] at its head: LPUSH them rightmost first.
  local popped = {}
  for k = #ids, 1, -1 do
    popped[#popped + 1] = ids[k]
  end
  call_chunked("LPUSH", base .. "active", popped)
  local unprioritized = {}
  for _, id in ipairs(popped) do
    out[#out + 1] = activate(base, id, token, lock_ms, now, unprioritized, hears)
  end
  call_chunked("ZREM", base .. "priority", unprioritized)
end

-- Redis does not roll a script back when a command fails, so every key an added job will touch
-- is checked first: returns nil, or a message naming the key whose type would make the add fail.
-- With a `memo` (new_add_memo), a queue's own keys are checked once per script.
local function add_problem_at(argv, i, memo)
  local base, custom_id = argv[i], argv[i + 1]
  local expected = {}
  if not (memo and memo.checked[base]) then
    expected = {
      { base .. "id", "string" },
      { base .. "wait", "list" },
      { base .. "paused", "list" },
      { base .. "delayed", "zset" },
      { base .. "priority", "zset" },
    }
  end
  if custom_id ~= "" then
    expected[#expected + 1] = { base .. custom_id, "hash" }
  end
  if argv[i + 9] ~= "" then
    expected[#expected + 1] = { base .. "repeat", "zset" }
  end
  if argv[i + 12] ~= "" then
    expected[#expected + 1] = { base .. "de:" .. argv[i + 12], "string" }
  end
  for _, pair in ipairs(expected) do
    local kind = redis.call("TYPE", pair[1])["ok"]
    if kind ~= "none" and kind ~= pair[2] then
      return "key " .. pair[1] .. " holds a " .. kind .. ", not a " .. pair[2]
    end
  end
  if not (memo and memo.checked[base]) then
    local counter = redis.call("GET", base .. "id")
    if counter and not string.match(counter, "^%-?%d+$") then
      return "key " .. base .. "id is not an integer counter"
    end
    if memo then
      memo.checked[base] = true
    end
  end
  return nil
end
