-- Deterministic evaluation: n episodes at once, one act call per step for
-- the episodes still running.
local core = require "vksac.core"
local envs = require "vksac.envs"

local function finite_row(row)
  for _, x in ipairs(row) do
    if x ~= x or x == math.huge or x == -math.huge then return false end
  end
  return true
end

-- Runs one episode on each env of `list` (reset with seed, seed + 1, …);
-- returns the mean return, its standard deviation, the mean length and
-- the returns.
return function(agent, list, seed)
  local n = #list
  local obs, returns, lengths, active = {}, {}, {}, {}
  for i, env in ipairs(list) do
    obs[i] = env:reset(seed + i - 1)
    returns[i], lengths[i], active[i] = 0, 0, i
  end
  local space = list[1].action_space
  while #active > 0 do
    local states = {}
    for k, i in ipairs(active) do states[k] = obs[i] end
    local cont, disc = agent:act(core.tensor(states))
    cont, disc = cont and cont:totable(), disc and disc:totable()
    local still = {}
    for k, i in ipairs(active) do
      local action = envs.to_action(space, cont and cont[k], disc and disc[k])
      local o, r, terminated, truncated = list[i]:step(action)
      if r ~= r or r == math.huge or r == -math.huge or not finite_row(o) then
        error(string.format("evaluation episode %d returned a non-finite %s at its step %d",
                            i, finite_row(o) and "reward" or "observation", lengths[i] + 1), 0)
      end
      obs[i] = o
      returns[i] = returns[i] + r
      lengths[i] = lengths[i] + 1
      if not (terminated or truncated) then still[#still + 1] = i end
    end
    active = still
  end
  local sum, len = 0, 0
  for i = 1, n do sum, len = sum + returns[i], len + lengths[i] end
  local mean = sum / n
  local var = 0
  for i = 1, n do var = var + (returns[i] - mean) ^ 2 end
  return mean, math.sqrt(var / n), len / n, returns
end
