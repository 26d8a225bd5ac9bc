-- vksac.Random: a deterministic PRNG in plain Lua, for the environments and
-- the training loop.
--
--   local rng = vksac.Random(42)
--   rng:uniform()          -- [0, 1)
--   rng:uniform(-2, 2)     -- [-2, 2)
--   rng:integer(6)         -- 0..5, unbiased
--   rng:normal()           -- N(0, 1)
--   local s = rng:state()  -- {4 integers}; rng:set_state(s) resumes exactly
--
-- The generator is xoshiro256** (Blackman and Vigna) with its state seeded
-- through splitmix64, on Lua 5.4's 64-bit wrap-around integers: the same
-- seed gives the same stream on every platform. math.random is not used
-- because its state cannot be saved into a checkpoint.
local Random = {}
Random.__index = Random
Random.__name = "vksac.Random"

local TWO_POW_M53 = 1.0 / 9007199254740992   -- 2^-53
local TWO_PI = 2 * math.pi
local tointeger, mtype, log, sqrt, cos = math.tointeger, math.type, math.log, math.sqrt, math.cos

local function describe(v)
  local t = type(v)
  if t == "number" then return v ~= v and "nan" or tostring(v) end
  if t == "boolean" or t == "nil" then return tostring(v) end
  if t == "string" then return "'" .. v .. "'" end
  return "a " .. t
end

local function rotl(x, k) return (x << k) | (x >> (64 - k)) end

-- splitmix64 step: the advanced counter and the mixed output.
local function splitmix64(x)
  x = x + 0x9E3779B97F4A7C15   -- hex literals wrap to 64-bit integers
  local z = x
  z = (z ~ (z >> 30)) * 0xBF58476D1CE4E5B9
  z = (z ~ (z >> 27)) * 0x94D049BB133111EB
  return x, z ~ (z >> 31)
end

-- The next 64-bit output (any bit pattern, as a signed Lua integer).
local function next64(self)
  local s0, s1, s2, s3 = self[1], self[2], self[3], self[4]
  local result = rotl(s1 * 5, 7) * 9
  local t = s1 << 17
  s2 = s2 ~ s0
  s3 = s3 ~ s1
  s1 = s1 ~ s2
  s0 = s0 ~ s3
  s2 = s2 ~ t
  s3 = rotl(s3, 45)
  self[1], self[2], self[3], self[4] = s0, s1, s2, s3
  return result
end
Random.next64 = next64

local function seed_state(self, seed)
  local x = seed
  for i = 1, 4 do x, self[i] = splitmix64(x) end
  -- splitmix64 never yields four zero words in a row, so the state is valid.
end

-- An integer seed, or an error naming `fname` raised at `level` (counted
-- from the caller of check_seed).
local function check_seed(seed, fname, level)
  local s = type(seed) == "number" and tointeger(seed) or nil
  if s == nil then
    error(string.format("bad argument #1 to '%s' (seed must be an integer, got %s)",
                        fname, describe(seed)), level + 1)
  end
  return s
end

-- Random(seed): a generator; seed is any integer (default 0).
local function new(seed, level)
  local self = setmetatable({}, Random)
  seed_state(self, seed == nil and 0 or check_seed(seed, "Random", (level or 1) + 1))
  return self
end

-- Re-seeds in place, as Random(seed) would.
function Random:seed(seed)
  seed_state(self, check_seed(seed, "seed", 2))
  return self
end

-- uniform() in [0, 1); uniform(lo, hi) in [lo, hi).
function Random:uniform(lo, hi)
  local u = (next64(self) >> 11) * TWO_POW_M53
  if lo == nil and hi == nil then return u end
  if type(lo) ~= "number" then
    error("bad argument #1 to 'uniform' (number expected, got " .. describe(lo) .. ")", 2)
  end
  if type(hi) ~= "number" then
    error("bad argument #2 to 'uniform' (number expected, got " .. describe(hi) .. ")", 2)
  end
  return lo + (hi - lo) * u
end

-- integer(n): uniform in 0..n-1. Rejection on the top 63 bits removes the
-- bias of a plain modulo.
function Random:integer(n)
  local m = type(n) == "number" and tointeger(n) or nil
  if m == nil or m < 1 then
    error("bad argument #1 to 'integer' (positive integer expected, got " .. describe(n) .. ")", 2)
  end
  -- 2^63 mod m, computed without 2^63 (not a Lua integer).
  local rem = (math.maxinteger % m + 1) % m
  local limit = math.maxinteger - rem   -- accept r <= limit: a multiple of m values
  while true do
    local r = next64(self) >> 1
    if r <= limit then return r % m end
  end
end

-- normal(): N(0, 1) by Box-Muller, two uniforms per value and no cached
-- second value, so that the state is only the four words.
function Random:normal()
  local u1 = 1.0 - (next64(self) >> 11) * TWO_POW_M53   -- (0, 1]: log is finite
  local u2 = (next64(self) >> 11) * TWO_POW_M53
  return sqrt(-2.0 * log(u1)) * cos(TWO_PI * u2)
end

-- The state as plain data: a list of 4 integers.
function Random:state()
  return {self[1], self[2], self[3], self[4]}
end

-- Why t is not a valid state, or nil when it is (shared with the envs'
-- set_state, which embed an RNG state).
function Random.state_error(t)
  if type(t) ~= "table" then return "RNG state must be a table of 4 integers, got " .. describe(t) end
  if #t ~= 4 then return "RNG state must be a table of 4 integers, got " .. #t .. " values" end
  for i = 1, 4 do
    if mtype(t[i]) ~= "integer" then
      return string.format("RNG state[%d] must be an integer, got %s", i, describe(t[i]))
    end
  end
  if t[1] == 0 and t[2] == 0 and t[3] == 0 and t[4] == 0 then
    return "RNG state must not be all zero"
  end
  return nil
end

function Random:set_state(t)
  local err = Random.state_error(t)
  if err then error("bad argument #1 to 'set_state' (" .. err .. ")", 2) end
  self[1], self[2], self[3], self[4] = t[1], t[2], t[3], t[4]
  return self
end

-- An independent copy continuing the same stream.
function Random:clone()
  return setmetatable({self[1], self[2], self[3], self[4]}, Random)
end

function Random:__tostring()
  return string.format("vksac.Random(state = {%d, %d, %d, %d})", self[1], self[2], self[3], self[4])
end

function Random.new(seed)
  local r = new(seed, 2)   -- not a tail call: errors point at our caller
  return r
end
function Random.is(v) return getmetatable(v) == Random end

-- The module is callable: Random(seed).
return setmetatable(Random, {__call = function(_, seed)
  local r = new(seed, 2)
  return r
end})
