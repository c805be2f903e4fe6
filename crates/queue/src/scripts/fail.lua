-- One failed attempt: record it (stacktrace, failedReason, attemptsMade), then retry at once,
-- retry after a backoff, or fail for good (retention, `failed` event, and the jobs owed with it:
-- the dead letter and what the handler asked for, in the same step). KEYS[1]: `active` (routing).
-- ARGV: base, id, token, now, mode ("retry" | "delay" | "fail"), reason, stackEntry,
--   stackTraceLimit (0 = all), attemptsMade, delayedScore, lifo ("1"), keepCount, keepAgeSecs,
--   metricsMaxPoints (0: no metrics, see collect_metrics), finalCount, nowCount, noteCount, then
--   finalCount ADD_FIELDS records added only when mode is "fail", nowCount records added in
--   every mode, and noteCount name/value pairs written as `gh:<name>` fields (only when the
--   now-records could be added: a note says they went out).
-- Returns 0, or Bull's error codes -1 / -2 / -6 / -3 (nothing written then).
local base, id, token, now, mode = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local reason, stack_entry = ARGV[6], ARGV[7]
local stack_limit = tonumber(ARGV[8]) or 0
local job_key = base .. id
if redis.call("EXISTS", job_key) == 0 then
  return -1
end
-- Checked before any write (scripts are not rolled back): when one of them cannot be added, the
-- job is failed without any and kept in `failed` whatever its retention says.
local final_count = tonumber(ARGV[15]) or 0
local now_count = tonumber(ARGV[16]) or 0
local note_count = tonumber(ARGV[17]) or 0
local FIRST_FINAL = 18
local first_now = FIRST_FINAL + final_count * ADD_FIELDS
local first_note = first_now + now_count * ADD_FIELDS
local add_count = 0
if mode == "fail" then
  add_count = final_count
end
local keep_count, keep_age = tonumber(ARGV[12]), tonumber(ARGV[13])
local memo = new_add_memo()
for n = 0, add_count - 1 do
  if add_problem_at(ARGV, FIRST_FINAL + n * ADD_FIELDS, memo) then
    add_count = 0
    keep_count, keep_age = -1, -1
    break
  end
end
for n = 0, now_count - 1 do
  if add_problem_at(ARGV, first_now + n * ADD_FIELDS, memo) then
    now_count, note_count = 0, 0
    break
  end
end
local status = release_lock(base, id, token)
if status ~= 0 then
  return status
end
if redis.call("LREM", base .. "active", -1, id) == 0 then
  return -3
end

local stack = {}
local stored = redis.call("HGET", job_key, "stacktrace")
if stored then
  local ok, decoded = pcall(cjson.decode, stored)
  if ok and type(decoded) == "table" then
    stack = decoded
  end
end
stack[#stack + 1] = stack_entry
if stack_limit > 0 then
  while #stack > stack_limit do
    table.remove(stack, 1)
  end
end
redis.call("HSET", job_key, "stacktrace", cjson.encode(stack), "failedReason", reason,
  "attemptsMade", ARGV[9])
for n = 0, note_count - 1 do
  local at = first_note + n * 2
  redis.call("HSET", job_key, "gh:" .. ARGV[at], ARGV[at + 1])
end
for n = 0, now_count - 1 do
  add_job_at(ARGV, first_now + n * ADD_FIELDS, token, nil, memo)
end

if mode == "delay" then
  local score = ARGV[10]
  redis.call("ZADD", base .. "delayed", score, id)
  redis.call("PUBLISH", base .. "delayed", int_text(math.ceil(tonumber(score) / 4096)))
elseif mode == "retry" then
  local priority = tonumber(redis.call("HGET", job_key, "priority")) or 0
  push_waiting(base, id, priority, ARGV[11] == "1")
else
  release_debounce(base, job_key)
  finish_with_retention(base, "failed", id, now, nil, nil, keep_count, keep_age)
  collect_metrics(base, "failed", tonumber(ARGV[14]) or 0, tonumber(now), 1)
  redis.call("PUBLISH", base .. "failed", finished_message(id, reason))
  for n = 0, add_count - 1 do
    add_job_at(ARGV, FIRST_FINAL + n * ADD_FIELDS, token, nil, memo)
  end
end
return 0
