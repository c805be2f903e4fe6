-- The stalled-job check (moveStalledJobsToWait), throttled by `stalled-check`.
-- KEYS[1]: `stalled` (routing).
-- ARGV: base, now, stalledInterval, maxStalledCount, token, deadLetterBase ("" = none),
--   deadLetterName, failedAtIso, queueName.
-- Returns {failedIds, recoveredIds}.
local base, now, interval = ARGV[1], ARGV[2], ARGV[3]
local max_stalled = tonumber(ARGV[4]) or 1
local token, dl_base, dl_name, failed_at, queue_name = ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9]
local check_key = base .. "stalled-check"
if redis.call("EXISTS", check_key) == 1 then
  return { {}, {} }
end
redis.call("SET", check_key, now, "PX", interval)

local STALLED_REASON = "job stalled more than allowable limit"

-- A JSON value for text that should be JSON: itself when it parses, else a JSON string of it.
local function json_or_string(text)
  if text and pcall(cjson.decode, text) then
    return text
  end
  if text then
    return cjson.encode(text)
  end
  return "null"
end

local failed, recovered = {}, {}
local stalled_key = base .. "stalled"
local suspects = redis.call("SMEMBERS", stalled_key)
if #suspects > 0 then
  redis.call("DEL", stalled_key)
  for _, id in ipairs(suspects) do
    local job_key = base .. id
    if redis.call("EXISTS", job_key .. ":lock") == 0
      and redis.call("LREM", base .. "active", 1, id) > 0 then
      if redis.call("EXISTS", job_key) == 0 then
        -- Nothing left to recover: the id was only a dangling entry in `active`.
        failed[#failed + 1] = id
      else
        local stalls = redis.call("HINCRBY", job_key, "stalledCounter", 1)
        if stalls > max_stalled then
          local fields = redis.call("HMGET", job_key, "opts", "data", "name", "attemptsMade")
          local keep_count, keep_age = -1, -1
          local ok, opts = pcall(cjson.decode, fields[1] or "")
          if ok and type(opts) == "table" then
            local keep = opts["removeOnFail"]
            if keep == true then
              keep_count = 0
            elseif type(keep) == "number" then
              keep_count = keep
            elseif type(keep) == "table" then
              keep_count = tonumber(keep["count"]) or -1
              keep_age = tonumber(keep["age"]) or -1
            end
          end
          redis.call("HSET", job_key, "failedReason", STALLED_REASON)
          release_debounce(base, job_key)
          if dl_base ~= "" then
            local letter = '{"originalJob":' .. json_or_string(fields[2])
              .. ',"error":' .. cjson.encode(STALLED_REASON)
              .. ',"failedAt":' .. cjson.encode(failed_at)
              .. ',"queue":' .. cjson.encode(queue_name)
              .. ',"jobId":' .. cjson.encode(id)
              .. ',"jobName":' .. cjson.encode(fields[3] or "__default__")
              .. ',"attemptsMade":' .. (tonumber(fields[4]) or 0)
              .. ',"opts":' .. json_or_string(fields[1]) .. '}'
            local letter_opts = '{"attempts":1,"delay":0,"timestamp":' .. now .. '}'
            add_job_at({ dl_base, "", dl_name, letter, letter_opts, now, "0", "0", "0", "", "", "", "", "0" }, 1, token)
          end
          finish_with_retention(base, "failed", id, now, nil, nil, keep_count, keep_age)
          redis.call("PUBLISH", base .. "failed",
            '{"jobId":' .. cjson.encode(id) .. ',"val":"job stalled more than maxStalledCount"}')
          failed[#failed + 1] = id
        else
          redis.call("RPUSH", target_list(base), id)
          redis.call("PUBLISH", base .. "stalled@", id)
          recovered[#recovered + 1] = id
        end
      end
    end
  end
end

local active = redis.call("LRANGE", base .. "active", 0, -1)
for start = 1, #active, 5000 do
  local chunk = {}
  for j = start, math.min(start + 4999, #active) do
    chunk[#chunk + 1] = active[j]
  end
  redis.call("SADD", stalled_key, unpack(chunk))
end
return { failed, recovered }
