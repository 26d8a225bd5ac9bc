-- MountainCarContinuous-v0: drive an underpowered car up a hill by rocking
-- it (Gymnasium's classic control task; dynamics exactly as in ENVS.md).
--
-- Observation (position, speed); action: force in [-1, 1] (one number);
-- reward −0.1·f² per step plus 100 on reaching the goal; terminated at
-- position ≥ 0.45 with speed ≥ 0, truncated after 999 steps.
local spaces = require "vksac.envs.spaces"

local cos = math.cos

local MIN_POSITION, MAX_POSITION = -1.2, 0.6
local MAX_SPEED, POWER = 0.07, 0.0015
local GOAL_POSITION, GOAL_VELOCITY = 0.45, 0.0

local MountainCar = spaces.env_class{
  id = "MountainCarContinuous-v0",
  name = "MountainCarContinuous",
  fields = {{"position", MIN_POSITION, MAX_POSITION}, {"velocity", -MAX_SPEED, MAX_SPEED}},
  max_episode_steps = 999,
  solved_threshold = 90,
  spaces = function()
    return spaces.box({MIN_POSITION, -MAX_SPEED}, {MAX_POSITION, MAX_SPEED}),
           spaces.box({-1}, {1})
  end,
}
MountainCar.goal_position = GOAL_POSITION

local function observe(self)
  return {self.position, self.velocity}
end

function MountainCar:reset(seed)
  self:_begin(seed)
  self.position = self.rng:uniform(-0.6, -0.4)
  self.velocity = 0.0
  return observe(self), {}
end

function MountainCar:step(action)
  if self.done then self:_reset_needed() end
  local f, err = spaces.read_box1(action, -1.0, 1.0)
  if f == nil then error("bad argument #1 to 'step' (" .. err .. ")", 2) end

  local position, velocity = self.position, self.velocity
  velocity = velocity + f * POWER - 0.0025 * cos(3 * position)
  if velocity > MAX_SPEED then velocity = MAX_SPEED elseif velocity < -MAX_SPEED then velocity = -MAX_SPEED end
  position = position + velocity
  if position > MAX_POSITION then position = MAX_POSITION elseif position < MIN_POSITION then position = MIN_POSITION end
  -- The left wall is inelastic.
  if position == MIN_POSITION and velocity < 0 then velocity = 0.0 end
  self.position, self.velocity = position, velocity

  local terminated = position >= GOAL_POSITION and velocity >= GOAL_VELOCITY
  -- As Gymnasium: 100 on the goal step, minus the action cost. (Gymnasium
  -- squares the unclipped action; ENVS.md the clipped force f. They differ
  -- only for actions outside [-1, 1].)
  local reward = terminated and 100.0 or 0.0
  reward = reward - f * f * 0.1
  self.steps = self.steps + 1
  local truncated = self.steps >= self.max_episode_steps
  self.done = terminated or truncated
  return observe(self), reward, terminated, truncated, {}
end

return MountainCar
