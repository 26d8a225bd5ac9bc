-- SAC on MountainCarContinuous-v0: the car must rock back and forth to
-- climb the hill, and every push costs, so an agent that has not yet seen
-- the goal learns to stand still. Uniformly random warm-up actions average
-- out and leave the car at the bottom (about 1 episode in 200 reaches the
-- goal), so this sample warms up with random pushes held for 10 to 80
-- steps instead: in a simulation of 200 episodes they rocked the car up
-- the hill in 98%, and the replay buffer holds the goal's reward before the
-- policy acts.
-- Solved: mean return ≥ 90.
--
--   build/vksac samples/mountaincar.lua [seed] [steps]
local vksac = require "vksac"

local seed = math.tointeger(tonumber(arg and arg[1] or "1"))
local steps = math.tointeger(tonumber(arg and arg[2] or "50000"))

-- One held push per environment copy: the force and the steps it has left.
local held = {}
local function rocking(_, rng, i)
  local h = held[i]
  if not h or h.left == 0 then
    h = {force = rng:uniform() < 0.5 and -1 or 1, left = 10 + rng:integer(71)}
    held[i] = h
  end
  h.left = h.left - 1
  return {h.force}
end

local result = vksac.train{
  env = "MountainCarContinuous-v0",
  agent = {dim_hidden = 64, mlp_depth = 1},
  batch_size = 128,
  total_steps = steps,
  warmup_steps = 10000,
  warmup_policy = rocking,
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
