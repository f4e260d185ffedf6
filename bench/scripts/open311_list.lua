-- Open311 listings: GET one of the paths in MADINA_BENCH_PATHS (newline-separated), at random.
wrk.method = "GET"
local paths = {}

function init(args)
  math.randomseed(os.time() + (tid or 0))
  for path in string.gmatch(os.getenv("MADINA_BENCH_PATHS") or "", "[^\n]+") do
    table.insert(paths, path)
  end
end

function request()
  return wrk.format(nil, paths[math.random(1, #paths)])
end
