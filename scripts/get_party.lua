-- wrk script: GET $PATH_PREFIX{id} (default /v1/parties/) for random ids from $IDS_FILE as an agent.
local ids = {}
for line in io.lines(os.getenv("IDS_FILE")) do ids[#ids + 1] = line end
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
wrk.headers["X-Purpose"] = "collection"
local prefix = os.getenv("PATH_PREFIX") or "/v1/parties/"
math.randomseed(os.time())
request = function()
  return wrk.format("GET", prefix .. ids[math.random(#ids)])
end
