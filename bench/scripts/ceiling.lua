-- The bare stack: a trivial Starlette endpoint (bench/ceiling_app.py).
wrk.method = "GET"
wrk.path = "/ceiling"
