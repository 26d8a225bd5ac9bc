-- Pendulum-v1: swing a pendulum up and hold it (Gymnasium's classic
-- control task; dynamics exactly as in ENVS.md).
--
-- Observation (cos θ, sin θ, θ̇); action: torque in [-2, 2] (one number);
-- reward −(norm(θ)² + 0.1·θ̇² + 0.001·u²); never terminates, truncated
-- after 200 steps.
local spaces = require "vksac.envs.spaces"

local sin, cos, pi = math.sin, math.cos, math.pi

local G, M, L, DT = 10.0, 1.0, 1.0, 0.05
local MAX_SPEED, MAX_TORQUE = 8.0, 2.0

local Pendulum = spaces.env_class{
  id = "Pendulum-v1",
  name = "Pendulum",
  fields = {{"theta"}, {"theta_dot", -MAX_SPEED, MAX_SPEED}},
  max_episode_steps = 200,
  solved_threshold = -200,
  spaces = function()
    return spaces.box({-1, -1, -MAX_SPEED}, {1, 1, MAX_SPEED}),
           spaces.box({-MAX_TORQUE}, {MAX_TORQUE})
  end,
}

-- ((x + π) mod 2π) − π, with Lua's floored float modulo (as Python's %).
local function angle_normalize(x)
  return ((x + pi) % (2 * pi)) - pi
end
Pendulum.angle_normalize = angle_normalize

local function observe(self)
  local th = self.theta
  return {cos(th), sin(th), self.theta_dot}
end

function Pendulum:reset(seed)
  self:_begin(seed)
  self.theta = self.rng:uniform(-pi, pi)
  self.theta_dot = self.rng:uniform(-1, 1)
  return observe(self), {}
end

function Pendulum:step(action)
  if self.done then self:_reset_needed() end
  local u, err = spaces.read_box1(action, -MAX_TORQUE, MAX_TORQUE)
  if u == nil then error("bad argument #1 to 'step' (" .. err .. ")", 2) end

  local th, thdot = self.theta, self.theta_dot
  local an = angle_normalize(th)
  local cost = an * an + 0.1 * (thdot * thdot) + 0.001 * (u * u)   -- Gymnasium's grouping
  local newthdot = thdot + (3 * G / (2 * L) * sin(th) + 3.0 / (M * L * L) * u) * DT
  if newthdot > MAX_SPEED then newthdot = MAX_SPEED elseif newthdot < -MAX_SPEED then newthdot = -MAX_SPEED end
  self.theta = th + newthdot * DT
  self.theta_dot = newthdot

  self.steps = self.steps + 1
  local truncated = self.steps >= self.max_episode_steps
  self.done = truncated
  return observe(self), -cost, false, truncated, {}
end

return Pendulum
