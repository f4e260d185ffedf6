-- Single-entity attribute PATCH: every request updates `temperature` of one hot entity, the
-- worst case for write contention (one row, one history stream).
wrk.method = "PATCH"
wrk.headers["Content-Type"] = "application/json"
local path = "/ngsi-ld/v1/entities/urn:ngsi-ld:BenchSensor:hot/attrs/temperature"
local counter = 0

function request()
  counter = counter + 1
  return wrk.format(nil, path, nil, string.format('{"type":"Property","value":%d}', counter % 100))
end
