-- Completes several jobs, each together with the jobs it produced, then takes more.
-- KEYS[1]: `active` (routing).
-- ARGV: base, token, now, lockMillis, takeCount, jobCount, announceDrained ("1"), then per job:
--   id, returnValueJson, keepCount, keepAgeSecs, outputCount, outputCount * ADD_FIELDS.
-- A job whose lock is not ours (or that is gone or not active) is left alone and its outputs are
-- not added: a stale completion writes nothing.
-- Returns {statuses, taken, problems}, packed with cmsgpack as in take.lua: statuses[i] is 0,
-- Bull's error code, or -10 when an output could not be added (problems[i] says why; nothing of
-- that job was written); taken as in take.lua.
local base, token, now, lock_ms = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local take_count = tonumber(ARGV[5])
local job_count = tonumber(ARGV[6])
local announce_drained = ARGV[7] == "1"
local statuses, problems = {}, {}
-- Nothing below reads `stalled`: the completed ids leave it in one call after the loop.
local unstalled = {}
local i = 8
for n = 1, job_count do
  local id, value = ARGV[i], ARGV[i + 1]
  local keep_count, keep_age = tonumber(ARGV[i + 2]), tonumber(ARGV[i + 3])
  local outputs = tonumber(ARGV[i + 4])
  i = i + 5
  local job_key = base .. id
  local status = 0
  local problem = ""
  for o = 0, outputs - 1 do
    local found = add_problem_at(ARGV, i + o * ADD_FIELDS)
    if found then
      problem = found
      break
    end
  end
  if problem ~= "" then
    status = -10
  elseif redis.call("EXISTS", job_key) == 0 then
    status = -1
  else
    status = release_lock(base, id, token, unstalled)
    if status == 0 and redis.call("LREM", base .. "active", -1, id) == 0 then
      status = -3
    end
  end
  if status == 0 then
    release_debounce(base, job_key)
    finish_with_retention(base, "completed", id, now, "returnvalue", value, keep_count, keep_age)
    redis.call("PUBLISH", base .. "completed", finished_message(id, value))
    for o = 0, outputs - 1 do
      add_job_at(ARGV, i + o * ADD_FIELDS, token)
    end
  end
  i = i + outputs * ADD_FIELDS
  statuses[n] = status
  problems[n] = problem
end
call_chunked("SREM", base .. "stalled", unstalled)
local taken = {}
if take_count > 0 then
  take_jobs(base, token, lock_ms, now, take_count, taken, announce_drained)
end
return cmsgpack.pack({ statuses, taken, problems })
