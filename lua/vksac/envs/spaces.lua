-- Action and observation spaces, the conversions between the agent's form
-- of an action (cont, disc arrays) and the environment's, and the small
-- pieces every environment shares (options, reset seeds, state()/set_state()).
--
-- Space tables (docs/envs.md):
--   {type = "box", shape = {k}, low = {...}, high = {...}, nvec = {}}
--   {type = "discrete", n = n, low = {}, high = {}, nvec = {n}}
--   {type = "multi_discrete", low = {}, high = {}, nvec = {n1, n2, ...}}
--   {type = "hybrid", low = {...}, high = {...}, nvec = {n1, n2, ...}}
-- Environment actions: box a number (1 dimension) or a list of numbers;
-- discrete an integer 0..n-1; multi-discrete a list of such integers;
-- hybrid {cont = {...}, discrete = {...}}.
local Random = require "vksac.rng"
local options = require "vksac.options"
local nearest = require("vksac.core").nearest

local spaces = {}
local type, mtype, tointeger = type, math.type, math.tointeger
local huge = math.huge

-- What a value is, for messages, as everywhere in vksac.
local describe = options.describe
spaces.describe = describe

local function copy(list)
  local r = {}
  for i = 1, #list do r[i] = list[i] end
  return r
end

-- Bounds are floats, as Gymnasium's float32 arrays (±math.huge unbounded).
local function floats(list)
  local r = {}
  for i = 1, #list do r[i] = list[i] + 0.0 end
  return r
end

---------------------------------------------------------------------------
-- Space constructors

function spaces.box(low, high)
  return {type = "box", shape = {#low}, low = floats(low), high = floats(high), nvec = {}}
end

function spaces.discrete(n)
  return {type = "discrete", n = n, low = {}, high = {}, nvec = {n}}
end

function spaces.multi_discrete(nvec)
  return {type = "multi_discrete", low = {}, high = {}, nvec = copy(nvec)}
end

function spaces.hybrid(low, high, nvec)
  return {type = "hybrid", low = floats(low), high = floats(high), nvec = copy(nvec)}
end

---------------------------------------------------------------------------
-- Reading actions. Each reader returns the value(s), or nil and the reason
-- (without the "bad argument" frame, which the caller adds with its own
-- name and level).

-- One continuous value, clipped to [lo, hi]; NaN and non-numbers are errors.
local function read_number(v, lo, hi, what)
  if type(v) ~= "number" or v ~= v then
    return nil, what .. " must be a number, got " .. describe(v)
  end
  if v < lo then return lo elseif v > hi then return hi end
  if mtype(v) == "integer" then return v + 0.0 end   -- the dynamics work in floats
  return v
end

-- An index in 0..n-1 (an integer, or a float with an integral value).
local function read_index(v, n, what)
  local i = type(v) == "number" and tointeger(v) or nil
  if i == nil or i < 0 or i >= n then
    return nil, string.format("%s must be an integer in 0..%d, got %s", what, n - 1, describe(v))
  end
  return i
end
spaces.read_index = read_index

-- A one-dimensional box action: a number or a table holding one number.
-- The fast path of Pendulum and MountainCarContinuous; no allocation.
function spaces.read_box1(action, lo, hi, what)
  what = what or "box action"
  if type(action) == "table" then
    if #action ~= 1 then
      return nil, string.format("%s must have 1 value, got %d", what, #action)
    end
    return read_number(action[1], lo, hi, (what == "box action" and "action" or what) .. "[1]")
  elseif type(action) == "number" then
    return read_number(action, lo, hi, what == "box action" and "action" or what)
  end
  return nil, what .. " must be a number or a table of 1 number, got " .. describe(action)
end

-- A k-dimensional box action into `out` (clipped values); returns out.
local function read_box(low, high, action, out, what)
  local k = #low
  if k == 1 and type(action) == "number" then
    local v, err = read_number(action, low[1], high[1], what == "box action" and "action" or what)
    if v == nil then return nil, err end
    out[1] = v
    return out
  end
  if type(action) ~= "table" then
    return nil, string.format("%s must be a %stable of %d number%s, got %s", what,
                              k == 1 and "number or a " or "", k, k == 1 and "" or "s", describe(action))
  end
  if #action ~= k then
    return nil, string.format("%s must have %d value%s, got %d", what, k, k == 1 and "" or "s", #action)
  end
  local prefix = what == "box action" and "action" or what
  for j = 1, k do
    local v, err = read_number(action[j], low[j], high[j], prefix .. "[" .. j .. "]")
    if v == nil then return nil, err end
    out[j] = v
  end
  return out
end

-- A list of D indices into `out`; returns out.
local function read_indices(nvec, action, out, what, prefix)
  local d = #nvec
  if type(action) ~= "table" then
    return nil, string.format("%s must be a table of %d integers, got %s", what, d, describe(action))
  end
  if #action ~= d then
    return nil, string.format("%s must have %d values, got %d", what, d, #action)
  end
  for i = 1, d do
    local v, err = read_index(action[i], nvec[i], prefix .. "[" .. i .. "]")
    if v == nil then return nil, err end
    out[i] = v
  end
  return out
end

-- Any action of `space` in environment form -> cont, disc (agent form,
-- written into cont_out / disc_out, new tables when nil); or nil, nil, err.
-- Parts the space does not have are nil.
function spaces.read(space, action, cont_out, disc_out)
  local kind = space.type
  local err
  if kind == "box" then
    cont_out, err = read_box(space.low, space.high, action, cont_out or {}, "box action")
    if cont_out == nil then return nil, nil, err end
    return cont_out, nil
  elseif kind == "discrete" then
    local i
    i, err = read_index(action, space.n, "discrete action")
    if i == nil then return nil, nil, err end
    disc_out = disc_out or {}
    disc_out[1] = i
    return nil, disc_out
  elseif kind == "multi_discrete" then
    disc_out, err = read_indices(space.nvec, action, disc_out or {}, "multi-discrete action", "action")
    if disc_out == nil then return nil, nil, err end
    return nil, disc_out
  elseif kind == "hybrid" then
    if type(action) ~= "table" then
      return nil, nil, "hybrid action must be a table {cont = {...}, discrete = {...}}, got " .. describe(action)
    end
    cont_out, err = read_box(space.low, space.high, action.cont, cont_out or {}, "action.cont")
    if cont_out == nil then return nil, nil, err end
    disc_out, err = read_indices(space.nvec, action.discrete, disc_out or {}, "action.discrete", "action.discrete")
    if disc_out == nil then return nil, nil, err end
    return cont_out, disc_out
  end
  return nil, nil, "unknown space type " .. describe(kind)
end

---------------------------------------------------------------------------
-- Conversions between agent form and environment form

local function check_space(space, fname)
  if type(space) ~= "table" or type(space.type) ~= "string" then
    error(string.format("bad argument #1 to '%s' (space expected, got %s)", fname, describe(space)), 3)
  end
end

-- The environment-form action from the agent's cont (array of C numbers)
-- and disc (array of D 0-based integers). Checked as step would check it;
-- continuous values are passed through (step clips them).
function spaces.to_action(space, cont, disc)
  check_space(space, "to_action")
  local kind = space.type
  local action
  if kind == "box" then
    action = cont
  elseif kind == "discrete" then
    action = type(disc) == "table" and disc[1] or disc
  elseif kind == "multi_discrete" then
    action = disc
  else
    action = {cont = cont, discrete = disc}
  end
  local _, _, err = spaces.read(space, action)
  if err then error("bad argument #2 to 'to_action' (" .. err .. ")", 2) end
  return action
end

-- The agent form (cont, disc) of an environment-form action, continuous
-- values clipped as step clips them; new tables.
function spaces.from_action(space, action)
  check_space(space, "from_action")
  local cont, disc, err = spaces.read(space, action)
  if err then error("bad argument #2 to 'from_action' (" .. err .. ")", 2) end
  return cont, disc
end

-- A uniformly random action in agent form: cont in [low, high), each
-- discrete head uniform over its choices. nil for parts the space lacks.
function spaces.sample_action(space, rng)
  check_space(space, "sample_action")
  if not Random.is(rng) then
    error("bad argument #2 to 'sample_action' (vksac.Random expected, got " .. describe(rng) .. ")", 2)
  end
  local cont, disc
  if #space.low > 0 then
    cont = {}
    for j = 1, #space.low do cont[j] = rng:uniform(space.low[j], space.high[j]) end
  end
  if #space.nvec > 0 then
    disc = {}
    for i = 1, #space.nvec do disc[i] = rng:integer(space.nvec[i]) end
  end
  return cont, disc
end

-- Options for vksac.SAC / Actor / Critic matching an environment (or a
-- Vector): dim_state, and the action keys that apply.
function spaces.agent_options(env)
  if type(env) ~= "table" or type(env.observation_space) ~= "table" or type(env.action_space) ~= "table" then
    error("bad argument #1 to 'agent_options' (environment expected, got " .. describe(env) .. ")", 2)
  end
  local obs, act = env.observation_space, env.action_space
  local o = {dim_state = obs.shape[1]}
  if #act.low > 0 then
    o.num_cont_actions = #act.low
    o.action_low = copy(act.low)
    o.action_high = copy(act.high)
  end
  if #act.nvec > 0 then o.num_discrete_actions = copy(act.nvec) end
  return o
end

---------------------------------------------------------------------------
-- Shared pieces of the environments

-- Checks a constructor's options table against `keys` (a list of names)
-- and the common ones: max_episode_steps (positive integer) and seed
-- (integer). Errors read "bad argument #<argn> to '<fname>' (...)" at
-- `level` (counted from the caller of check_options).
function spaces.check_options(opts, keys, fname, argn, level)
  local function fail(msg)
    error(string.format("bad argument #%d to '%s' (%s)", argn, fname, msg), level + 2)
  end
  if opts == nil then return {} end
  if type(opts) ~= "table" then fail("options table expected, got " .. describe(opts)) end
  local known = {}
  for _, k in ipairs(keys) do known[k] = true end
  for k in pairs(opts) do
    if type(k) ~= "string" then fail("keys must be option names, got " .. describe(k)) end
    if not known[k] then
      local near = nearest(k, keys)
      if near then fail(string.format("unknown option '%s'; did you mean '%s'?", k, near)) end
      fail(string.format("unknown option '%s'", k))
    end
  end
  local m = opts.max_episode_steps
  if m ~= nil and (type(m) ~= "number" or tointeger(m) == nil or m < 1) then
    fail("field 'max_episode_steps' must be a positive integer, got " .. describe(m))
  end
  local s = opts.seed
  if s ~= nil and (type(s) ~= "number" or tointeger(s) == nil) then
    fail("field 'seed' must be an integer, got " .. describe(s))
  end
  return opts
end

local function reset_needed(self)
  error(self.started and "call reset() before step(): the episode has ended"
                      or "call reset() before the first step()", 3)
end

-- Defines an environment class. def: id (Gymnasium id), name (constructor
-- name), fields (the physics state: list of {name, lo, hi} where lo/hi
-- bound valid values, or {name, "integer"}), max_episode_steps,
-- solved_threshold, spaces() -> observation_space, action_space, and
-- options (extra option names). The env file adds reset and step.
function spaces.env_class(def)
  local C = {}
  C.__index = C
  C.__name = "vksac.envs." .. def.name
  C.id = def.id
  local option_keys = {"max_episode_steps", "seed"}
  for _, k in ipairs(def.options or {}) do option_keys[#option_keys + 1] = k end
  C.option_keys = option_keys

  -- new(opts, fname, argn, level): errors name fname's argument argn and
  -- are raised `level` frames above new's caller.
  function C.new(opts, fname, argn, level)
    opts = spaces.check_options(opts, option_keys, fname, argn, level + 1)
    local self = setmetatable({}, C)
    self.id = def.id
    self.max_episode_steps = tointeger(opts.max_episode_steps) or def.max_episode_steps
    self.solved_threshold = def.solved_threshold
    self.observation_space, self.action_space = def.spaces()
    -- The RNG before the first seeded reset: seeded by the `seed` option
    -- (default 0) rather than by entropy, so every run is reproducible.
    self.rng = Random(tointeger(opts.seed) or 0)
    self.steps = 0
    self.started = false   -- reset() was called at least once
    self.done = true       -- step() needs a reset() first
    for _, f in ipairs(def.fields) do self[f[1]] = f[2] == "integer" and 0 or 0.0 end
    return self
  end

  -- Starts an episode's bookkeeping; re-seeds when a seed is given.
  function C:_begin(seed)
    if seed ~= nil then
      local s = type(seed) == "number" and tointeger(seed) or nil
      if s == nil then
        error("bad argument #1 to 'reset' (seed must be an integer, got " .. describe(seed) .. ")", 3)
      end
      self.rng:seed(s)
    end
    self.steps = 0
    self.started = true
    self.done = false
  end

  C._reset_needed = reset_needed

  function C:state()
    local t = {id = self.id, steps = self.steps, started = self.started, done = self.done,
               rng = self.rng:state()}
    for _, f in ipairs(def.fields) do t[f[1]] = self[f[1]] end
    return t
  end

  local allowed = {id = true, steps = true, started = true, done = true, rng = true}
  for _, f in ipairs(def.fields) do allowed[f[1]] = true end

  -- Why t is not a valid state of this environment, or nil.
  function C:state_error(t)
    if type(t) ~= "table" then return "state table expected, got " .. describe(t) end
    if t.id ~= self.id then
      return string.format("state of %s given to a %s environment", describe(t.id), self.id)
    end
    for k in pairs(t) do
      if not allowed[k] then return "unknown field " .. describe(k) end
    end
    local steps = t.steps
    if type(steps) ~= "number" or tointeger(steps) == nil or steps < 0 then
      return "field 'steps' must be a non-negative integer, got " .. describe(steps)
    end
    if type(t.started) ~= "boolean" then return "field 'started' must be a boolean, got " .. describe(t.started) end
    if type(t.done) ~= "boolean" then return "field 'done' must be a boolean, got " .. describe(t.done) end
    local err = Random.state_error(t.rng)
    if err then return "field 'rng': " .. err end
    for _, f in ipairs(def.fields) do
      local name, v = f[1], t[f[1]]
      if f[2] == "integer" then
        if type(v) ~= "number" or tointeger(v) == nil or v < 0 then
          return string.format("field '%s' must be a non-negative integer, got %s", name, describe(v))
        end
      else
        local lo, hi = f[2] or -huge, f[3] or huge
        if type(v) ~= "number" or v ~= v or v == huge or v == -huge then
          return string.format("field '%s' must be a finite number, got %s", name, describe(v))
        end
        if v < lo or v > hi then
          return string.format("field '%s' must be in [%s, %s], got %s", name, lo, hi, describe(v))
        end
      end
    end
    return nil
  end

  function C:set_state(t)
    local err = self:state_error(t)
    if err then error("bad argument #1 to 'set_state' (" .. err .. ")", 2) end
    self.steps = tointeger(t.steps)
    self.started = t.started
    self.done = t.done
    self.rng:set_state(t.rng)
    for _, f in ipairs(def.fields) do
      local v = t[f[1]]
      -- Integers become floats; floats are kept as they are (even -0.0).
      if f[2] == "integer" then v = tointeger(v) elseif mtype(v) == "integer" then v = v + 0.0 end
      self[f[1]] = v
    end
    return self
  end

  function C:__tostring()
    return string.format("vksac.envs.%s(%s, step %d)", def.name, self.id, self.steps)
  end

  return C
end

return spaces
