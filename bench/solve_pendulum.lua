-- Time to solve Pendulum-v1 (BENCH.md): trains samples/pendulum.lua's
-- configuration until the mean return of 10 deterministic episodes is
-- ≥ −200, and prints one JSON line with the steps, the seconds and where
-- the time went. Run through bench/solve_pendulum.sh, which adds the
-- process's own wall time.
--   vksac bench/solve_pendulum.lua SEED [max steps]
local vksac = require "vksac"
local t0 = vksac.clock()

local seed = math.tointeger(tonumber(arg[1] or "1"))
local max_steps = math.tointeger(tonumber(arg[2] or "20000"))
local config = {
  env = "Pendulum-v1",
  agent = {dim_hidden = 64, mlp_depth = 1},
  batch_size = 100,
  total_steps = max_steps,
  warmup_steps = 1000,
  eval_every = 1000,
  target_return = -200,
  seed = seed,
  quiet = true,
}
local r = vksac.train(config)
local since_start = r.solved_time and (r.solved_time + (vksac.clock() - t0 - r.time)) or nil

-- The device's name and its driver's version, as the C benchmarks print it.
local dev = vksac.device()
local device = (dev.name .. "; " .. dev.driver_version):gsub('[\\"]', "\\%0")
local function fmt(x) return x and string.format("%.3f", x) or "null" end
local timing = {}
for _, k in ipairs({"act", "env", "observe", "update", "eval", "checkpoint"}) do
  timing[#timing + 1] = string.format('"%s_s":%s', k, fmt(r.timing[k]))
end
print(string.format('{"bench":"solve_pendulum","seed":%d,"solved":%s,"solved_step":%s,"steps":%d,'
  .. '"seconds_to_solved":%s,"train_seconds":%s,"eval_return":%.1f,"updates":%d,%s,'
  .. '"device":"%s","config":"hidden 64, depth 1, batch 100, warm-up 1000, eval every 1000 x 10 episodes"}',
  seed, tostring(r.solved_step ~= nil), r.solved_step or "null", r.steps, fmt(since_start), fmt(r.time),
  r.eval_return, r.updates, table.concat(timing, ","), device))
