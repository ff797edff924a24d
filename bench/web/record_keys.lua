-- wrk script: GET /tasks/record with a new key per request (KEY_PREFIX .. n; run wrk with
-- -t1 so the counter is the only one), and report.lua's line at the end of a run.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "report.lua")
local n = 0
local prefix = os.getenv("KEY_PREFIX") or "k"
request = function()
  n = n + 1
  return wrk.format("GET", "/tasks/record?ms=0&key=" .. prefix .. n)
end
