-- vksac.envs: Gymnasium-style environments in plain Lua (docs/envs.md).
--
--   local envs = require "vksac.envs"
--   local env = envs.make("CartPole-v1")            -- or envs.CartPole{}
--   local obs, info = env:reset(42)
--   local obs, reward, terminated, truncated, info = env:step(1)
--
-- Every env has id, max_episode_steps, solved_threshold,
-- observation_space, action_space, reset, step, state and set_state.
local spaces = require "vksac.envs.spaces"

local envs = {}

local classes = {
  require "vksac.envs.pendulum",
  require "vksac.envs.cartpole",
  require "vksac.envs.mountaincar",
  (require "vksac.envs.reachgrab"),   -- () keeps require's second value out
}

local by_id = {}
local ids = {}
for _, C in ipairs(classes) do
  by_id[C.id] = C
  ids[#ids + 1] = C.id
  local name = C.__name:match("[^.]+$")
  -- The constructor, e.g. envs.CartPole{max_episode_steps = 200}.
  envs[name] = function(opts)
    local env = C.new(opts, name, 1, 2)   -- not a tail call: errors point at our caller
    return env
  end
end
table.sort(ids)

-- The known Gymnasium ids, sorted.
function envs.names()
  local r = {}
  for i, id in ipairs(ids) do r[i] = id end
  return r
end

-- make(id [, opts]): the environment with that Gymnasium id.
function envs.make(name, opts)
  local C = by_id[name]
  if C == nil then
    error(string.format("bad argument #1 to 'make' (unknown environment %s; known: %s)",
                        spaces.describe(name), table.concat(ids, ", ")), 2)
  end
  local env = C.new(opts, "make", 2, 2)
  return env
end

envs.Vector = require "vksac.envs.vector"
envs.spaces = spaces
envs.to_action = spaces.to_action
envs.from_action = spaces.from_action
envs.sample_action = spaces.sample_action
envs.agent_options = spaces.agent_options

return envs
