-- wrk script for benches/load.sh: random customers, one route, optional per-connection pacing.
math.randomseed(42)
local customers = tonumber(os.getenv("CUSTOMERS") or "1000000")
local route = os.getenv("ROUTE") or "recommendations"
local key = os.getenv("API_KEY") or ""
local pace = tonumber(os.getenv("DELAY_MS") or "0")

request = function()
  local c = math.random(0, customers - 1)
  local path
  if route == "churn" then
    path = "/v1/customers/web:" .. c .. "/churn"
  elseif route == "fixed" then
    path = "/fixed/web:" .. c
  else
    path = "/v1/customers/web:" .. c .. "/recommendations?k=10"
  end
  return wrk.format("GET", path, { ["X-API-Key"] = key })
end

if pace > 0 then
  delay = function() return pace end
end
