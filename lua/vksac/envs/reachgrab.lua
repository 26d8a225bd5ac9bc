-- ReachGrab-v0: our hybrid-action task (docs/envs.md has the full
-- definition and the measured returns).
--
-- A gripper on a rail at position p ∈ [-1, 1] must reach a target t and
-- grab it. Each step it either moves, with a continuous throttle u and a
-- gear (slow and exact, or fast and shaky), or grabs. A grab within 0.05 of
-- the target scores +10 and a new target appears; a grab elsewhere costs 1.
-- Moving needs the continuous action, grabbing and changing gear need the
-- discrete heads: neither kind alone gets anywhere near the good returns.
--
-- Observation (p, t, t − p); action {cont = {u}, discrete = {gear, mode}}:
-- u ∈ [-1, 1]; gear 0 = slow, 1 = fast; mode 0 = move, 1 = grab.
local spaces = require "vksac.envs.spaces"

local abs = math.abs

local SLOW_SPEED = 0.05    -- slow gear: moves exactly 0.05·u
local FAST_SPEED = 0.2     -- fast gear: moves 0.2·u + FAST_SHAKE·ξ, ξ ~ U(-1, 1)
local FAST_SHAKE = 0.1     -- twice the grab radius: an aimed fast move lands in the window half the time
local FAST_FUEL = 0.02     -- per unit |u| in the fast gear
local TIME_COST = 0.01     -- every step
local GRAB_RADIUS = 0.05
local GRAB_REWARD = 10.0
local MISS_COST = 1.0
local MIN_TARGET_DISTANCE = 0.25   -- a new target never starts inside the window

local ReachGrab = spaces.env_class{
  id = "ReachGrab-v0",
  name = "ReachGrab",
  fields = {{"position", -1, 1}, {"target", -1, 1}, {"grabs", "integer"}},
  max_episode_steps = 200,
  -- About 80% of the scripted policy's mean return (docs/envs.md).
  solved_threshold = 300,
  spaces = function()
    return spaces.box({-1, -1, -2}, {1, 1, 2}),
           spaces.hybrid({-1}, {1}, {2, 2})
  end,
}
ReachGrab.constants = {
  slow_speed = SLOW_SPEED, fast_speed = FAST_SPEED, fast_shake = FAST_SHAKE, fast_fuel = FAST_FUEL,
  time_cost = TIME_COST, grab_radius = GRAB_RADIUS, grab_reward = GRAB_REWARD, miss_cost = MISS_COST,
  min_target_distance = MIN_TARGET_DISTANCE,
}

local function observe(self)
  local p, t = self.position, self.target
  return {p, t, t - p}
end

-- A target uniform on [-1, 1] at least MIN_TARGET_DISTANCE from p
-- (rejection: at most a quarter of the draws are rejected).
local function new_target(self)
  local p, rng = self.position, self.rng
  local t
  repeat t = rng:uniform(-1, 1) until abs(t - p) >= MIN_TARGET_DISTANCE
  self.target = t
end

function ReachGrab:reset(seed)
  self:_begin(seed)
  self.position = self.rng:uniform(-1, 1)
  new_target(self)
  self.grabs = 0
  return observe(self), {grabs = 0}
end

-- Reused buffers for the parsed action: step allocates only the
-- observation and the info table.
local cont_buf, disc_buf = {0.0}, {0, 0}

function ReachGrab:step(action)
  if self.done then self:_reset_needed() end
  local cont, disc, err = spaces.read(self.action_space, action, cont_buf, disc_buf)
  if cont == nil then error("bad argument #1 to 'step' (" .. err .. ")", 2) end
  local u, gear, mode = cont[1], disc[1], disc[2]

  local p, t = self.position, self.target
  local reward = -TIME_COST
  if mode == 1 then
    -- Grab in place.
    if abs(t - p) <= GRAB_RADIUS then
      reward = reward + GRAB_REWARD
      self.grabs = self.grabs + 1
      new_target(self)
    else
      reward = reward - MISS_COST
    end
  else
    local move
    if gear == 1 then
      move = FAST_SPEED * u + FAST_SHAKE * self.rng:uniform(-1, 1)
      reward = reward - FAST_FUEL * abs(u)
    else
      move = SLOW_SPEED * u
    end
    local np = p + move
    if np > 1 then np = 1.0 elseif np < -1 then np = -1.0 end
    self.position = np
    -- Progress toward the target (a potential difference: no net gain from
    -- going back and forth), so that moving well pays before the first grab.
    reward = reward + (abs(t - p) - abs(t - np))
  end

  self.steps = self.steps + 1
  local truncated = self.steps >= self.max_episode_steps
  self.done = truncated
  return observe(self), reward, false, truncated, {grabs = self.grabs}
end

return ReachGrab
