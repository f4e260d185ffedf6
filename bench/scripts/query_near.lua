-- georel=near;maxDistance==500 around a random point of the seeded area (bench/fleet.py BBOX),
-- a few hundred candidates per query at 100,000 entities; first page returned (limit 20).
wrk.method = "GET"

function init(args)
  math.randomseed(os.time() + (tid or 0))
end

function request()
  local lon = 24.80 + math.random() * 0.30
  local lat = 60.13 + math.random() * 0.12
  local path = string.format(
    "/ngsi-ld/v1/entities?type=BenchSensor&georel=near;maxDistance==500" ..
    "&geometry=Point&coordinates=%%5B%.6f,%.6f%%5D&limit=20", lon, lat)
  return wrk.format(nil, path)
end
