-- Open311 submissions: POST /open311/v2/requests.json, form-encoded, a pothole at a random point
-- of the bench city with a size attribute, a description and a reporter's e-mail (open mode:
-- no api_key; the route is the same).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
local counter = 0

function init(args)
  math.randomseed(os.time() + (tid or 0))
end

function request()
  counter = counter + 1
  local body = string.format(
    "service_code=pothole&attribute%%5Bsize%%5D=%s&lat=%.6f&long=%.6f" ..
    "&description=Bench+hole+%d-%d&email=bench%%40example.org&first_name=Bench",
    (counter % 2 == 0) and "s" or "l", 60.15 + math.random() * 0.05,
    24.90 + math.random() * 0.10, tid or 0, counter)
  return wrk.format(nil, "/open311/v2/requests.json", nil, body)
end
