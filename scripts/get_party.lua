-- wrk script: GET /v1/parties/{id} for random ids from $IDS_FILE as an agent.
local ids = {}
for line in io.lines(os.getenv("IDS_FILE")) do ids[#ids + 1] = line end
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
wrk.headers["X-Purpose"] = "collection"
math.randomseed(os.time())
request = function()
  return wrk.format("GET", "/v1/parties/" .. ids[math.random(#ids)])
end
