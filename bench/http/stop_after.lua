-- wrk script: stop after a fixed number of responses (the argument after --), so that a
-- server's system calls can be counted over a known number of requests. Use with -t1.
local limit, done = 10000, 0
function init(args) limit = tonumber(args[1]) or limit end
function response()
  done = done + 1
  if done >= limit then wrk.thread:stop() end
end
