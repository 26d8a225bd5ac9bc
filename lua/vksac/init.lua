-- The `vksac` module: the C core (tensors, Actor, Critic, SAC, ...) plus
-- the parts written in Lua, loaded when first used.
local core = require "vksac.core"

local vksac = {}
for k, v in pairs(core) do vksac[k] = v end

local lazy = {
  envs = function() return require "vksac.envs" end,
  Random = function() return require "vksac.rng" end,
  train = function() return require "vksac.train" end,
  plot_curve = function() return require("vksac.plot").curve end,
}

return setmetatable(vksac, {
  __index = function(t, k)
    local load = lazy[k]
    if not load then return nil end
    local v = load()
    rawset(t, k, v)
    return v
  end,
})
