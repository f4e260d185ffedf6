-- Query by type + q over the seeded fleet: temperature is uniform 0..99, so each request matches
-- ~1 % of the entities and returns the first page (limit 20).
wrk.method = "GET"

function init(args)
  math.randomseed(os.time() + (tid or 0))
end

function request()
  local path = string.format(
    "/ngsi-ld/v1/entities?type=BenchSensor&q=temperature==%d&limit=20", math.random(0, 99))
  return wrk.format(nil, path)
end
