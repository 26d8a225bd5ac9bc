-- SAC on MountainCarContinuous-v0: the car must rock back and forth to
-- climb the hill, and every push costs, so an agent that has not yet seen
-- the goal learns to stand still. A hard exploration task for SAC; this
-- sample keeps the entropy high (a target above the default −1) so the
-- early random walk reaches the goal. Solved: mean return ≥ 90.
--
--   build/vksac samples/mountaincar.lua [seed] [steps]
local vksac = require "vksac"

local seed = math.tointeger(tonumber(arg and arg[1] or "1"))
local steps = math.tointeger(tonumber(arg and arg[2] or "50000"))

local result = vksac.train{
  env = "MountainCarContinuous-v0",
  agent = {dim_hidden = 64, mlp_depth = 1, target_entropy = 0},
  batch_size = 128,
  total_steps = steps,
  warmup_steps = 10000,
  eval_every = 5000,
  target_return = 90,
  seed = seed,
  log = "mountaincar.csv",
  plot = "mountaincar.png",
  checkpoint = "mountaincar.safetensors",
}

print(string.format("evaluation return %.1f after %d steps (%.0f s); solved (≥ 90) %s",
  result.eval_return, result.steps, result.time,
  result.solved_step and ("at step " .. result.solved_step) or "not yet"))
