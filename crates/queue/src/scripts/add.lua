-- Adds jobs (addJob for each, atomically). KEYS[1]: the `id` key of the calling queue (routing only).
-- ARGV: token, count, then count records of ADD_FIELDS (see add_job_at).
-- Returns one entry per job: its id, or false when a repeat iteration was skipped.
local token = ARGV[1]
local count = tonumber(ARGV[2])
local memo = new_add_memo()
-- All or nothing: refuse the whole call before writing if any job could not be added.
for n = 0, count - 1 do
  local problem = add_problem_at(ARGV, 3 + n * ADD_FIELDS, memo)
  if problem then
    return redis.error_reply("GHADD " .. problem)
  end
end
local ids = {}
for n = 0, count - 1 do
  ids[n + 1] = add_job_at(ARGV, 3 + n * ADD_FIELDS, token, nil, memo)
end
return ids
