-- Train SAC on ReachGrab-v0, our hybrid-action task (docs/envs.md): one
-- continuous throttle plus two discrete heads, a gear (slow and exact, or
-- fast and shaky) and a mode (move or grab). Solved: mean return ≥ 300.
--
--   build/vksac samples/hybrid.lua [seed] [steps]
local vksac = require "vksac"

local seed = math.tointeger(tonumber(arg and arg[1] or "1"))
local steps = math.tointeger(tonumber(arg and arg[2] or "30000"))

local result = vksac.train{
  env = "ReachGrab-v0",
  agent = {
    dim_hidden = 64, mlp_depth = 1,
    -- Both heads must become decisive: grabbing anywhere but on the target
    -- costs, so a near-uniform mode head (the default target) never wins.
    target_entropy_discrete = 0.3 * math.log(2),
  },
  batch_size = 128,
  total_steps = steps,
  warmup_steps = 1000,
  eval_every = 2500,
  target_return = 300,
  seed = seed,
  log = "hybrid.csv",
  plot = "hybrid.png",
  checkpoint = "hybrid.safetensors",
}

print(string.format("evaluation return %.1f after %d steps (%.0f s); solved (≥ 300) %s",
  result.eval_return, result.steps, result.time,
  result.solved_step and ("at step " .. result.solved_step) or "not yet"))
