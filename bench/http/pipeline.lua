-- wrk script: every request is a batch of `depth` pipelined GETs (default 16); wrk counts
-- each response. Usage: wrk ... -s bench/http/pipeline.lua URL -- 16
init = function(args)
  local depth = tonumber(args[1]) or 16
  local r = {}
  for i = 1, depth do
    r[i] = wrk.format(nil, wrk.path)
  end
  req = table.concat(r)
end

request = function()
  return req
end
