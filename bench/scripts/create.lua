-- Entity create with unique ids: POST /entities, five attributes each (the fleet shape).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local nonce = tostring(os.time())
local counter = 0

function init(args)
  math.randomseed(os.time() + (tid or 0))
end

function request()
  counter = counter + 1
  local id = string.format("urn:ngsi-ld:BenchSensor:c%s-%d-%d", nonce, tid or 0, counter)
  local body = string.format(
    '{"id":"%s","type":"BenchSensor",' ..
    '"temperature":{"type":"Property","value":%d},' ..
    '"humidity":{"type":"Property","value":%d},' ..
    '"status":{"type":"Property","value":"ok"},' ..
    '"name":{"type":"Property","value":"c%d"},' ..
    '"location":{"type":"GeoProperty","value":{"type":"Point","coordinates":[%.6f,%.6f]}}}',
    id, math.random(0, 99), math.random(0, 99), counter,
    24.80 + math.random() * 0.30, 60.13 + math.random() * 0.12)
  return wrk.format(nil, "/ngsi-ld/v1/entities", nil, body)
end
