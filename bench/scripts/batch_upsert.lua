-- Batch upsert: 1,000 entities x 5 attributes per request. Each wrk thread cycles through its own
-- fleet of 50,000 ids, so the first pass inserts and later passes replace, as a city's periodic
-- bulk ingestion does.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local BATCH = 1000
local FLEET = 50000
local counter = 0

function init(args)
  math.randomseed(os.time() + (tid or 0))
end

function request()
  local parts = {}
  for k = 1, BATCH do
    local index = (counter * BATCH + k) % FLEET
    parts[k] = string.format(
      '{"id":"urn:ngsi-ld:BenchSensor:b%d-%d","type":"BenchSensor",' ..
      '"temperature":{"type":"Property","value":%d},' ..
      '"humidity":{"type":"Property","value":%d},' ..
      '"status":{"type":"Property","value":"ok"},' ..
      '"name":{"type":"Property","value":"b%d"},' ..
      '"location":{"type":"GeoProperty","value":{"type":"Point","coordinates":[%.6f,%.6f]}}}',
      tid or 0, index, math.random(0, 99), math.random(0, 99), index,
      24.80 + math.random() * 0.30, 60.13 + math.random() * 0.12)
  end
  counter = counter + 1
  local body = "[" .. table.concat(parts, ",") .. "]"
  return wrk.format(nil, "/ngsi-ld/v1/entityOperations/upsert", nil, body)
end
