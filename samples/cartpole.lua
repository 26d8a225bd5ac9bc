-- Train SAC with a discrete action (push left or right) on CartPole-v1
-- until it balances the pole for the whole 500 steps.
--
--   build/vksac samples/cartpole.lua [seed] [steps]
local vksac = require "vksac"

local seed = math.tointeger(tonumber(arg and arg[1] or "1"))
local steps = math.tointeger(tonumber(arg and arg[2] or "50000"))

local result = vksac.train{
  env = "CartPole-v1",
  agent = {
    dim_hidden = 64, mlp_depth = 1,
    -- The default target (0.98 of the most entropy two actions can have)
    -- keeps the policy near a coin flip; CartPole needs it decisive.
    target_entropy_discrete = 0.3 * math.log(2),
  },
  batch_size = 128,
  total_steps = steps,
  warmup_steps = 1000,
  eval_every = 1000,
  target_return = 475,   -- stop once solved
  seed = seed,
  log = "cartpole.csv",
  plot = "cartpole.png",
  checkpoint = "cartpole.safetensors",
}

print(string.format("evaluation return %.1f after %d steps (%.0f s); solved (≥ 475) %s",
  result.eval_return, result.steps, result.time,
  result.solved_step and ("at step " .. result.solved_step) or "not yet"))
