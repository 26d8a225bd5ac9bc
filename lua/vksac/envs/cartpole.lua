-- CartPole-v1: balance a pole on a cart by pushing left or right
-- (Gymnasium's classic control task; dynamics exactly as in ENVS.md).
--
-- Observation (x, ẋ, θ, θ̇); action 0 (push left) or 1 (push right);
-- reward 1 per step including the terminating one; terminated when
-- |x| > 2.4 or |θ| > 12°, truncated after 500 steps.
local spaces = require "vksac.envs.spaces"

local sin, cos, huge = math.sin, math.cos, math.huge

local GRAVITY, MASSCART, MASSPOLE, LENGTH = 9.8, 1.0, 0.1, 0.5
local TOTAL_MASS = MASSPOLE + MASSCART
local POLEMASS_LENGTH = MASSPOLE * LENGTH
local FORCE_MAG, TAU = 10.0, 0.02
local THETA_THRESHOLD = 12 * 2 * math.pi / 360   -- 0.2094... rad, as Gymnasium
local X_THRESHOLD = 2.4

local CartPole = spaces.env_class{
  id = "CartPole-v1",
  name = "CartPole",
  fields = {{"x"}, {"x_dot"}, {"theta"}, {"theta_dot"}},
  max_episode_steps = 500,
  solved_threshold = 475,
  spaces = function()
    -- Gymnasium's bounds: twice the termination limits; speeds unbounded.
    return spaces.box({-2 * X_THRESHOLD, -huge, -2 * THETA_THRESHOLD, -huge},
                      {2 * X_THRESHOLD, huge, 2 * THETA_THRESHOLD, huge}),
           spaces.discrete(2)
  end,
}
CartPole.theta_threshold = THETA_THRESHOLD
CartPole.x_threshold = X_THRESHOLD

local function observe(self)
  return {self.x, self.x_dot, self.theta, self.theta_dot}
end

function CartPole:reset(seed)
  self:_begin(seed)
  local rng = self.rng
  self.x = rng:uniform(-0.05, 0.05)
  self.x_dot = rng:uniform(-0.05, 0.05)
  self.theta = rng:uniform(-0.05, 0.05)
  self.theta_dot = rng:uniform(-0.05, 0.05)
  return observe(self), {}
end

function CartPole:step(action)
  if self.done then self:_reset_needed() end
  local a, err = spaces.read_index(action, 2, "discrete action")
  if a == nil then error("bad argument #1 to 'step' (" .. err .. ")", 2) end

  local x, x_dot, theta, theta_dot = self.x, self.x_dot, self.theta, self.theta_dot
  local force = a == 1 and FORCE_MAG or -FORCE_MAG
  local costheta, sintheta = cos(theta), sin(theta)
  -- Products grouped as Gymnasium writes them (x**2 is one rounding).
  local temp = (force + POLEMASS_LENGTH * (theta_dot * theta_dot) * sintheta) / TOTAL_MASS
  local thetaacc = (GRAVITY * sintheta - costheta * temp)
                   / (LENGTH * (4.0 / 3.0 - MASSPOLE * (costheta * costheta) / TOTAL_MASS))
  local xacc = temp - POLEMASS_LENGTH * thetaacc * costheta / TOTAL_MASS
  -- Euler integration, positions first with the old speeds.
  x = x + TAU * x_dot
  x_dot = x_dot + TAU * xacc
  theta = theta + TAU * theta_dot
  theta_dot = theta_dot + TAU * thetaacc
  self.x, self.x_dot, self.theta, self.theta_dot = x, x_dot, theta, theta_dot

  local terminated = x < -X_THRESHOLD or x > X_THRESHOLD
                     or theta < -THETA_THRESHOLD or theta > THETA_THRESHOLD
  self.steps = self.steps + 1
  local truncated = self.steps >= self.max_episode_steps
  self.done = terminated or truncated
  return observe(self), 1.0, terminated, truncated, {}
end

return CartPole
