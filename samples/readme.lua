-- The seed's README example (SAC-pytorch), line for line in Lua.
-- Run: build/vksac samples/readme.lua
local vksac = require "vksac"
local SAC, Actor, Critic, MultipleCritics = vksac.SAC, vksac.Actor, vksac.Critic, vksac.MultipleCritics

local critic1 = Critic{
  dim_state = 5,
  num_cont_actions = 2,
  num_discrete_actions = {5, 5},
  num_quantiles = 3,
}

local critic2 = Critic{
  dim_state = 5,
  num_cont_actions = 2,
  num_discrete_actions = {5, 5},
  num_quantiles = 3,
}

local actor = Actor{
  dim_state = 5,
  num_cont_actions = 2,
  num_discrete_actions = {5, 5},
}

local agent = SAC{
  actor = actor,
  critics = {
    {dim_state = 5, num_cont_actions = 2, num_discrete_actions = {5, 5}},
    {dim_state = 5, num_cont_actions = 2, num_discrete_actions = {5, 5}},
  },
  quantiled_critics = false,
}

local state = vksac.randn(3, 5)
local cont_actions, discrete, cont_logprob, discrete_logprob = actor(state, {sample = true})

local stats = agent{
  states = state,
  cont_actions = cont_actions,
  discrete_actions = discrete,
  rewards = vksac.randn(1),
  done = vksac.zeros(1):bool(),
  next_states = state + 1,
}

-- Not in the seed: show what the update did.
local _ = critic1, critic2, MultipleCritics, cont_logprob, discrete_logprob
local keys = {"critic_loss", "actor_loss", "alpha", "mean_q", "entropy", "temperature_loss", "updates"}
for _, k in ipairs(keys) do
  print(string.format("%-17s %s", k, tostring(stats[k])))
end
