-- The `vksac` module: the C core (tensors, Actor, Critic, SAC, ...) plus
-- the parts written in Lua.
local core = require "vksac.core"

local vksac = {}
for k, v in pairs(core) do vksac[k] = v end

return vksac
