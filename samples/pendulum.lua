-- Train SAC on Pendulum-v1 (Gymnasium's dynamics, docs/envs.md) until the
-- swing-up is solved (mean return ≥ −200 over 10 deterministic episodes)
-- or `steps` environment steps have passed.
--
--   build/vksac samples/pendulum.lua [seed] [steps]
--
-- Writes pendulum.csv (every episode and evaluation), pendulum.png (the
-- learning curve, when gnuplot is installed) and pendulum.safetensors (a
-- checkpoint: `build/vksac samples/play.lua pendulum.safetensors` replays
-- it; `resume = "pendulum.safetensors"` below would continue the run).
local vksac = require "vksac"

local seed = math.tointeger(tonumber(arg and arg[1] or "1"))
local steps = math.tointeger(tonumber(arg and arg[2] or "10000"))

local result = vksac.train{
  env = "Pendulum-v1",
  agent = {dim_hidden = 64, mlp_depth = 1},   -- RLtools' size: small nets learn this fast
  batch_size = 100,
  total_steps = steps,
  warmup_steps = 1000,
  eval_every = 1000,
  target_return = -200,   -- stop once solved
  seed = seed,
  log = "pendulum.csv",
  plot = "pendulum.png",
  checkpoint = "pendulum.safetensors",
  checkpoint_every = 5000,
}

print(string.format("evaluation return %.1f after %d steps (%.0f s); solved (≥ −200) %s",
  result.eval_return, result.steps, result.time,
  result.solved_step and ("at step " .. result.solved_step) or "not yet"))
