-- Aggregated temporal retrieve (bench/temporal.py): avg,min,max per hour over the 30 seeded
-- days of one random sensor's temperature, MADINA_BENCH_SENSORS sensors to pick from.
wrk.method = "GET"
local sensors = tonumber(os.getenv("MADINA_BENCH_SENSORS") or "1")

function init(args)
  math.randomseed(os.time() + (tid or 0))
end

function request()
  local path = string.format(
    "/ngsi-ld/v1/temporal/entities/urn:ngsi-ld:BenchSensor:hist-%d?attrs=temperature" ..
    "&aggrMethods=avg,min,max&aggrPeriodDuration=PT1H&timerel=between" ..
    "&timeAt=2026-01-01T00:00:00Z&endTimeAt=2026-01-31T00:00:00Z", math.random(0, sensors - 1))
  return wrk.format(nil, path)
end
