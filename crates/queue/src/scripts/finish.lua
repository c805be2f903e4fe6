-- Completes several jobs, each together with the jobs it produced, then takes more.
-- KEYS[1]: `active` (routing).
-- ARGV: base, token, now, lockMillis, takeCount, jobCount, announceDrained ("1"), publishAlways
-- ("1": publish every event, see new_hears), metricsMaxPoints (0: no metrics, see
-- collect_metrics), then per job: id, returnValueJson, keepCount,
-- keepAgeSecs, debounceId ("" for none), outputCount, outputCount * ADD_FIELDS.
-- A job whose lock is not ours (or that is gone or not active) is left alone and its outputs are
-- not added: a stale completion writes nothing.
-- Returns {statuses, taken, problems}, packed with cmsgpack as in take.lua: statuses[i] is 0,
-- Bull's error code, or -10 when an output could not be added (problems[i] says why; nothing of
-- that job was written); taken as in take.lua.
local base, token, now, lock_ms = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local take_count = tonumber(ARGV[5])
local job_count = tonumber(ARGV[6])
local announce_drained = ARGV[7] == "1"
local hears = new_hears(ARGV[8] == "1")
local metrics_points = tonumber(ARGV[9]) or 0
local memo = new_add_memo()
local active = base .. "active"
local FIRST_JOB, JOB_FIELDS = 10, 6

-- Every lock in one MGET, and `active`'s tail in one LRANGE: the jobs found there leave `active`
-- in one LTRIM at the end instead of an LREM each (a worker finishes its oldest jobs first).
local locks = {}
do
  local i = FIRST_JOB
  for n = 1, job_count do
    locks[n] = base .. ARGV[i] .. ":lock"
    i = i + JOB_FIELDS + tonumber(ARGV[i + 5]) * ADD_FIELDS
  end
end
local holders = {}
if token ~= "0" then
  holders = mget_chunked(locks)
end
local tail = {}
if job_count > 0 then
  tail = redis.call("LRANGE", active, -job_count, -1)
end
local in_tail = {}
for _, id in ipairs(tail) do
  in_tail[id] = (in_tail[id] or 0) + 1
end
local left_tail = {}

local statuses, problems = {}, {}
-- Lock and removed-job deletions and the `SREM stalled` are deferred (see new_batch).
local batch = new_batch()
local i = FIRST_JOB
for n = 1, job_count do
  local id, value = ARGV[i], ARGV[i + 1]
  local keep_count, keep_age = tonumber(ARGV[i + 2]), tonumber(ARGV[i + 3])
  local debounce_id = ARGV[i + 4]
  local outputs = tonumber(ARGV[i + 5])
  i = i + JOB_FIELDS
  local job_key = base .. id
  local status = 0
  local problem = ""
  local same_queue_output = false
  for o = 0, outputs - 1 do
    local at = i + o * ADD_FIELDS
    local found = add_problem_at(ARGV, at, memo)
    if found then
      problem = found
      break
    end
    same_queue_output = same_queue_output or ARGV[at] == base
  end
  if problem ~= "" then
    status = -10
  elseif token ~= "0" and holders[n] ~= token then
    status = holders[n] and -6 or -2
  elseif batch.released[id] then
    -- The same job twice in one batch: its lock went with the first.
    status = -2
  elseif (token == "0" or keep_count ~= 0) and redis.call("EXISTS", job_key) == 0 then
    -- A job removed on completion needs no such check: the lock only its worker holds, checked
    -- above, proves it is there, and nothing of it is written.
    status = -1
  elseif (in_tail[id] or 0) > 0 then
    in_tail[id] = in_tail[id] - 1
    left_tail[#left_tail + 1] = id
  elseif redis.call("LREM", active, -1, id) == 0 then
    status = -3
  end
  if status == 0 then
    batch.released[id] = true
    if token ~= "0" then
      batch.doomed[#batch.doomed + 1] = locks[n]
      batch.unstalled[#batch.unstalled + 1] = id
    end
    if debounce_id ~= "" then
      free_debounce(base, debounce_id)
    end
    finish_with_retention(base, "completed", id, now, "returnvalue", value, keep_count, keep_age,
      batch)
    if hears(base .. "completed") then
      redis.call("PUBLISH", base .. "completed", finished_message(id, value))
    end
    if same_queue_output then
      -- An output may reuse the id of a job removed above: the removal comes first.
      flush_batch(base, batch)
    end
    for o = 0, outputs - 1 do
      add_job_at(ARGV, i + o * ADD_FIELDS, token, hears, memo)
    end
  end
  i = i + outputs * ADD_FIELDS
  statuses[n] = status
  problems[n] = problem
end
if #left_tail > 0 and #left_tail == #tail then
  redis.call("LTRIM", active, 0, -(#tail + 1))
else
  for _, id in ipairs(left_tail) do
    redis.call("LREM", active, -1, id)
  end
end
flush_batch(base, batch)
local completed = 0
for _, status in ipairs(statuses) do
  if status == 0 then
    completed = completed + 1
  end
end
collect_metrics(base, "completed", metrics_points, tonumber(now), completed)
local taken = {}
if take_count > 0 then
  take_jobs(base, token, lock_ms, now, take_count, taken, announce_drained, hears)
end
return cmsgpack.pack({ statuses, taken, problems })
