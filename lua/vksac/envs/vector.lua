-- vksac.envs.Vector: n copies of an environment stepped together, with
-- Gymnasium 0.29's auto-reset in the same step.
--
--   local vec = envs.Vector("CartPole-v1", 8)        -- or Vector(function(i) ... end, 8)
--   local obs = vec:reset(42)                         -- copy i seeded 42 + i - 1
--   local obs, rewards, terminated, truncated, infos = vec:step(actions)
--
-- When copy i's episode ends in a step, infos[i].final_observation is its
-- last observation, infos[i].episode = {r = return, l = length}, and
-- obs[i] is already the first observation of its next episode.
local spaces = require "vksac.envs.spaces"

local describe = spaces.describe
local tointeger = math.tointeger

local Vector = {}
Vector.__index = Vector
Vector.__name = "vksac.envs.Vector"

-- Errors of the constructor: fail <- new <- __call <- the caller.
local function fail(argn, fname, msg)
  error(string.format("bad argument #%d to '%s' (%s)", argn, fname, msg), 4)
end

-- Vector(make, n [, opts]): make is a Gymnasium id (each copy is
-- envs.make(make, opts), copy i with seed (opts.seed or 0) + i - 1, so the
-- copies differ before the first seeded reset) or a function called as
-- make(i) that returns copy i.
local function new(make, n, opts)
  local count = type(n) == "number" and tointeger(n) or nil
  if count == nil or count < 1 then fail(2, "Vector", "number of copies must be a positive integer, got " .. describe(n)) end
  local list = {}
  if type(make) == "string" then
    local envs = require "vksac.envs"   -- here, not at load time: envs requires this file
    if opts ~= nil and type(opts) ~= "table" then fail(3, "Vector", "options table expected, got " .. describe(opts)) end
    -- Build one copy with the caller's options first: a bad id or option
    -- is then reported as Vector's argument.
    local ok, err = pcall(envs.make, make, opts)
    if not ok then
      local argn, msg = tostring(err):match("^bad argument #(%d) to 'make' %((.*)%)$")
      if not argn then error(err, 0) end
      fail(argn == "1" and 1 or 3, "Vector", msg)
    end
    local base = opts and opts.seed and tointeger(opts.seed) or 0
    for i = 1, count do
      local o = {}
      for k, v in pairs(opts or {}) do o[k] = v end
      o.seed = base + i - 1
      list[i] = envs.make(make, o)
    end
  elseif type(make) == "function" then
    if opts ~= nil then fail(3, "Vector", "options go to the make function, not to Vector") end
    for i = 1, count do
      local env = make(i)
      if type(env) ~= "table" or type(env.step) ~= "function" or type(env.action_space) ~= "table" then
        fail(1, "Vector", string.format("make(%d) must return an environment, got %s", i, describe(env)))
      end
      if i > 1 and env.id ~= list[1].id then
        fail(1, "Vector", string.format("make(%d) returned a %s, copy 1 is a %s", i, env.id, list[1].id))
      end
      list[i] = env
    end
  else
    fail(1, "Vector", "environment id or make function expected, got " .. describe(make))
  end
  local self = setmetatable({}, Vector)
  self.envs = list
  self.num_envs = count
  self.id = list[1].id
  self.observation_space = list[1].observation_space
  self.action_space = list[1].action_space
  self.max_episode_steps = list[1].max_episode_steps
  self.solved_threshold = list[1].solved_threshold
  self.returns = {}    -- of the running episodes, for infos[i].episode
  self.lengths = {}
  for i = 1, count do self.returns[i], self.lengths[i] = 0.0, 0 end
  self.started = false
  self.scratch_cont, self.scratch_disc = {}, {}   -- for checking actions without allocating
  return self
end

-- reset([seed]) -> list of n observations, list of n infos.
function Vector:reset(seed)
  if seed ~= nil and (type(seed) ~= "number" or tointeger(seed) == nil) then
    error("bad argument #1 to 'reset' (seed must be an integer, got " .. describe(seed) .. ")", 2)
  end
  local obs, infos = {}, {}
  for i, env in ipairs(self.envs) do
    obs[i], infos[i] = env:reset(seed and tointeger(seed) + i - 1)
    self.returns[i], self.lengths[i] = 0.0, 0
  end
  self.started = true
  return obs, infos
end

-- step(actions): actions[i] in copy i's environment form.
function Vector:step(actions)
  if not self.started then error("call reset() before the first step()", 2) end
  local n = self.num_envs
  if type(actions) ~= "table" or #actions ~= n then
    local got = type(actions) == "table" and (#actions .. " actions") or describe(actions)
    error(string.format("bad argument #1 to 'step' (a list of %d actions expected, got %s)", n, got), 2)
  end
  -- Check every action first, so an error leaves no copy half stepped and
  -- names the copy.
  local space, cont, disc = self.action_space, self.scratch_cont, self.scratch_disc
  for i = 1, n do
    local _, _, err = spaces.read(space, actions[i], cont, disc)
    if err then error(string.format("bad argument #1 to 'step' (actions[%d]: %s)", i, err), 2) end
  end
  local obs, rewards, terminated, truncated, infos = {}, {}, {}, {}, {}
  local returns, lengths = self.returns, self.lengths
  for i, env in ipairs(self.envs) do
    local o, r, term, trunc, info = env:step(actions[i])
    returns[i] = returns[i] + r
    lengths[i] = lengths[i] + 1
    if term or trunc then
      info.final_observation = o
      info.episode = {r = returns[i], l = lengths[i]}
      returns[i], lengths[i] = 0.0, 0
      o = env:reset()   -- continues the copy's own RNG stream
    end
    obs[i], rewards[i], terminated[i], truncated[i], infos[i] = o, r, term, trunc, info
  end
  return obs, rewards, terminated, truncated, infos
end

function Vector:state()
  local list, returns, lengths = {}, {}, {}
  for i, env in ipairs(self.envs) do
    list[i] = env:state()
    returns[i], lengths[i] = self.returns[i], self.lengths[i]
  end
  return {id = self.id, num_envs = self.num_envs, started = self.started, envs = list,
          returns = returns, lengths = lengths}
end

local function state_error(self, t)
  if type(t) ~= "table" then return "state table expected, got " .. describe(t) end
  if t.id ~= self.id then return string.format("state of %s given to a %s vector", describe(t.id), self.id) end
  if t.num_envs ~= self.num_envs then
    return string.format("state of %s copies given to a vector of %d", describe(t.num_envs), self.num_envs)
  end
  if type(t.started) ~= "boolean" then return "field 'started' must be a boolean, got " .. describe(t.started) end
  for _, key in ipairs{"envs", "returns", "lengths"} do
    if type(t[key]) ~= "table" or #t[key] ~= self.num_envs then
      return string.format("field '%s' must be a list of %d values", key, self.num_envs)
    end
  end
  for i, env in ipairs(self.envs) do
    local err = env:state_error(t.envs[i])
    if err then return string.format("envs[%d]: %s", i, err) end
    local r, l = t.returns[i], t.lengths[i]
    if type(r) ~= "number" or r ~= r then return string.format("returns[%d] must be a number, got %s", i, describe(r)) end
    if type(l) ~= "number" or tointeger(l) == nil or l < 0 then
      return string.format("lengths[%d] must be a non-negative integer, got %s", i, describe(l))
    end
  end
  return nil
end

function Vector:set_state(t)
  local err = state_error(self, t)
  if err then error("bad argument #1 to 'set_state' (" .. err .. ")", 2) end
  for i, env in ipairs(self.envs) do
    env:set_state(t.envs[i])
    self.returns[i], self.lengths[i] = t.returns[i], tointeger(t.lengths[i])
  end
  self.started = t.started
  return self
end

function Vector:__tostring()
  return string.format("vksac.envs.Vector(%s × %d)", self.id, self.num_envs)
end

return setmetatable(Vector, {__call = function(_, make, n, opts)
  local v = new(make, n, opts)
  return v
end})
