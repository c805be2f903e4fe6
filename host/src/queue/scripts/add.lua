-- Adds jobs (addJob for each, atomically). KEYS[1]: the `id` key of the calling queue (routing only).
-- ARGV: token, count, then count records of ADD_FIELDS (see add_job_at).
-- Returns one entry per job: its id, or false when a repeat iteration was skipped.
local token = ARGV[1]
local count = tonumber(ARGV[2])
local ids = {}
for n = 0, count - 1 do
  ids[n + 1] = add_job_at(ARGV, 3 + n * ADD_FIELDS, token)
end
return ids
