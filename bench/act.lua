-- build/vksac bench/act.lua [calls]: actor(state, {sample = true}) through
-- Lua for 1 and 256 states, on the same actor as bench/act (C). Prints one
-- JSON object per batch size. bench/run_act.sh runs both.
local vksac = require "vksac"
local calls = tonumber(arg and arg[1]) or 200

vksac.manual_seed(3)
local actor = vksac.Actor{dim_state = 17, num_cont_actions = 6, dim_hidden = 256, mlp_depth = 2}
-- The device's name and its driver's version, as the C benchmarks print it
-- (lavapipe's name is the same on Mesa versions whose timings differ).
local dev = vksac.device()
local device = (dev.name .. "; " .. dev.driver_version):gsub('[\\"]', "\\%0")
local threads = os.getenv("LP_NUM_THREADS") or "default"

local function time_calls(states, n)
  local best = math.huge
  for _ = 1, 5 do
    local t0 = vksac.clock()
    for _ = 1, n do actor(states, {sample = true}) end
    best = math.min(best, (vksac.clock() - t0) / n)
  end
  return best * 1e6
end

for _, n in ipairs{1, 256} do
  local states = vksac.randn(n, 17)
  time_calls(states, 5)   -- record and JIT first
  local us = time_calls(states, calls)
  print(string.format('{"bench":"act","via":"lua","n":%d,"us_per_call":%.2f,"calls":%d,"threads":"%s","device":"%s"}',
                      n, us, calls, threads, device))
end
