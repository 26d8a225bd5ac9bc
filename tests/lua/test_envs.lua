-- The environments (vksac.envs) and the RNG (vksac.Random): dynamics against
-- ENVS.md's formulas written out again here (not the envs' code), reset
-- distributions, time limits, termination, and the hybrid task's scripted
-- vs random returns. The interface (actions, options, state, Vector,
-- spaces) is checked in test_envs_api.lua.
package.path = "./?.lua;" .. package.path
local T = require "testing"
local vksac = require "vksac"
local envs = vksac.envs
local Random = vksac.Random
local H = require "envs_helpers"
local clip, same_list, eq_list, near_list = H.clip, H.same_list, H.eq_list, H.near_list
local state_with, is_plain = H.state_with, H.is_plain
local pi, sin, cos, abs = math.pi, math.sin, math.cos, math.abs

---------------------------------------------------------------------------
-- vksac.Random

T.case("Random: pinned values of seed 42 (xoshiro256** seeded by splitmix64)", function()
  -- Cross-checked against the reference C code of xoshiro256** and splitmix64.
  local r = Random(42)
  T.eq(r:next64(), 1546998764402558742)
  T.eq(r:next64(), 6990951692964543102)
  T.eq(r:next64(), -5902157311460992607)
  T.eq(r:uniform(), 0.92469294532538759)
  T.eq(r:uniform(), 0.99180391428210279)
  T.eq(r:uniform(), 0.76973946043424246)
  local s = Random(42):state()
  T.ok(is_plain(s) and #s == 4, "state is a list of 4 integers")
  for i = 1, 4 do T.eq(math.type(s[i]), "integer") end
  -- Seeds: 0 is the default, negative seeds are fine, seed() re-seeds.
  same_list(Random():state(), Random(0):state(), "default seed")
  T.ok(Random(-1):state()[1] ~= Random(1):state()[1], "seed -1 differs from 1")
  same_list(Random(5):seed(42):state(), s, "seed() in place")
  same_list(Random.new(42):state(), s, "Random.new")
  T.eq(Random(3.0):state()[1], Random(3):state()[1], "integral float seed")
end)

T.case("Random: distributions", function()
  local r = Random(1)
  local sum, lo, hi = 0, 1, 0
  for _ = 1, 10000 do
    local u = r:uniform()
    T.ok(u >= 0 and u < 1, "uniform in [0, 1)")
    sum, lo, hi = sum + u, math.min(lo, u), math.max(hi, u)
  end
  T.near(sum / 10000, 0.5, 0.02, "mean of 10 000 uniforms")
  T.ok(lo < 0.001 and hi > 0.999, "uniforms cover [0, 1)")
  for _ = 1, 1000 do
    local u = r:uniform(-3, 5)
    T.ok(u >= -3 and u < 5, "uniform(-3, 5)")
  end
  local s1, s2 = 0, 0
  for _ = 1, 10000 do
    local z = r:normal()
    s1, s2 = s1 + z, s2 + z * z
  end
  T.near(s1 / 10000, 0, 0.05, "normal mean")
  T.near(s2 / 10000, 1, 0.05, "normal variance")
  for n = 1, 7 do
    local seen = {}
    for _ = 1, 700 do
      local k = r:integer(n)
      T.eq(math.type(k), "integer")
      T.ok(k >= 0 and k < n, "integer(n) in 0..n-1")
      seen[k] = true
    end
    for k = 0, n - 1 do T.ok(seen[k], "integer(" .. n .. ") hits " .. k) end
  end
  local counts = {0, 0, 0}
  for _ = 1, 30000 do local k = r:integer(3) + 1; counts[k] = counts[k] + 1 end
  for k = 1, 3 do T.near(counts[k] / 30000, 1 / 3, 0.03, "integer(3) uniform") end
  local big = (1 << 62) + 12345
  for _ = 1, 100 do
    local k = r:integer(big)
    T.ok(k >= 0 and k < big, "integer of a huge n")
  end
  T.eq(r:integer(math.maxinteger) >= 0, true)
end)

T.case("Random: state round trip, clone, bad calls", function()
  local r = Random(9)
  for _ = 1, 5 do r:normal() end
  local s = r:state()
  local a = {r:uniform(), r:integer(10), r:normal(), r:next64()}
  r:set_state(s)
  local b = {r:uniform(), r:integer(10), r:normal(), r:next64()}
  same_list(a, b, "after set_state")
  local r2 = Random(123):set_state(s)
  local c = r2:clone()
  same_list({r2:uniform(), r2:uniform()}, {c:uniform(), c:uniform()}, "clone")
  T.raises("bad argument #1 to 'set_state' (RNG state must be a table of 4 integers, got 3)", r.set_state, r, 3)
  T.raises("bad argument #1 to 'set_state' (RNG state must be a table of 4 integers, got 3 values)",
           r.set_state, r, {1, 2, 3})
  T.raises("bad argument #1 to 'set_state' (RNG state[2] must be an integer, got 2.5)",
           r.set_state, r, {1, 2.5, 3, 4})
  T.raises("bad argument #1 to 'set_state' (RNG state[4] must be an integer, got '4')",
           r.set_state, r, {1, 2, 3, "4"})
  T.raises("bad argument #1 to 'set_state' (RNG state must not be all zero)", r.set_state, r, {0, 0, 0, 0})
  T.raises("bad argument #1 to 'Random' (seed must be an integer, got 'x')", Random, "x")
  T.raises("bad argument #1 to 'Random' (seed must be an integer, got 1.5)", Random, 1.5)
  T.raises("bad argument #1 to 'Random' (seed must be an integer, got '7')", Random, "7")
  T.raises("bad argument #1 to 'integer' (positive integer expected, got 0)", r.integer, r, 0)
  T.raises("bad argument #1 to 'integer' (positive integer expected, got 2.5)", r.integer, r, 2.5)
  T.raises("bad argument #2 to 'uniform' (number expected, got nil)", r.uniform, r, 1)
  T.raises("bad argument #1 to 'seed' (seed must be an integer, got nil)", r.seed, r)
  -- error(msg, 2): the position is the caller's line, in this file.
  T.raises({pattern = "^[^ ]*test_envs%.lua:%d+: bad argument #1 to 'Random'"}, function() local x = Random("x") end)
  T.raises({pattern = "^[^ ]*test_envs%.lua:%d+: bad argument #1 to 'set_state'"}, function() r:set_state({}) end)
  T.raises({pattern = "^[^ ]*test_envs%.lua:%d+: bad argument #1 to 'integer'"}, function() r:integer(-1) end)
  T.ok(tostring(r):find("^vksac.Random%(state = {"), "tostring")
end)

---------------------------------------------------------------------------
-- Pendulum-v1

-- ENVS.md, written out again: returns θ', θ̇', reward.
local function pendulum_ref(th, thdot, u)
  local g, m, l, dt = 10.0, 1.0, 1.0, 0.05
  u = clip(u, -2, 2)
  local norm = ((th + pi) % (2 * pi)) - pi
  local cost = norm ^ 2 + 0.1 * thdot ^ 2 + 0.001 * u ^ 2
  thdot = clip(thdot + (3 * g / (2 * l) * sin(th) + 3 / (m * l ^ 2) * u) * dt, -8, 8)
  return th + thdot * dt, thdot, -cost
end

T.case("Pendulum: steps against ENVS.md by hand, angle normalisation, literal values", function()
  local env = envs.Pendulum{}
  env:reset(0)
  -- Literal values from Gymnasium's formulas evaluated in Python.
  env:set_state(state_with(env, {theta = 4.0, theta_dot = -0.5}))
  local obs, r, term, trunc, info = env:step({1.5})
  T.near(obs[3], -0.8426018714809462, 1e-14, "θ̇ literal")
  T.near(env:state().theta, 3.9578699064259526, 1e-14, "θ literal")
  T.near(r, -5.240185146920742, 1e-14, "reward literal")
  T.eq(term, false); T.eq(trunc, false); T.eq(next(info), nil, "empty info")
  -- The cost uses norm(θ) = ((θ + π) mod 2π) − π: θ = 4 costs (4 − 2π)², not 16.
  env:set_state(state_with(env, {theta = 4.0, theta_dot = 0.0}))
  local _, r4 = env:step(0)
  T.near(r4, -(4 - 2 * pi) ^ 2, 1e-12, "θ = 4 normalised")
  env:set_state(state_with(env, {theta = -3.5, theta_dot = 0.0}))
  local _, rm = env:step(0)
  T.near(rm, -(2 * pi - 3.5) ^ 2, 1e-12, "θ = -3.5 normalised")
  env:set_state(state_with(env, {theta = 7.0, theta_dot = 0.0}))
  local _, r7 = env:step(0)
  T.near(r7, -(7 - 2 * pi) ^ 2, 1e-12, "θ = 7 normalised")
  -- Several steps with the speed clip reached, compared with the formulas.
  local th, thd = -3.5, 7.9
  env:set_state(state_with(env, {theta = th, theta_dot = thd, steps = 0, done = false}))
  for k, u in ipairs{3.0, -0.7, 2.0, -5, 0.25, 1.9} do
    local want_r
    th, thd, want_r = pendulum_ref(th, thd, u)
    local o, rew = env:step(u)
    near_list(o, {cos(th), sin(th), thd}, 1e-12, "observation at step " .. k)
    T.near(rew, want_r, 1e-12, "reward at step " .. k)
    T.near(env:state().theta, th, 1e-12, "θ at step " .. k)
  end
  T.eq(thd <= 8, true)
end)

T.case("Pendulum: reset distribution, spaces, 200-step limit, never terminates", function()
  local env = envs.make("Pendulum-v1")
  T.eq(env.id, "Pendulum-v1"); T.eq(env.max_episode_steps, 200); T.eq(env.solved_threshold, -200)
  local os_, as = env.observation_space, env.action_space
  T.eq(os_.type, "box"); eq_list(os_.shape, {3}); eq_list(os_.low, {-1, -1, -8}); eq_list(os_.high, {1, 1, 8})
  T.eq(as.type, "box"); eq_list(as.shape, {1}); eq_list(as.low, {-2}); eq_list(as.high, {2})
  T.eq(#as.nvec, 0)
  T.eq(math.type(as.low[1]), "float", "bounds are floats"); T.eq(math.type(as.shape[1]), "integer")
  local lo_th, hi_th, lo_d, hi_d = 9, -9, 9, -9
  for s = 1, 400 do
    local obs, info = env:reset(s)
    local st = env:state()
    T.ok(st.theta >= -pi and st.theta < pi, "θ in [-π, π)")
    T.ok(st.theta_dot >= -1 and st.theta_dot < 1, "θ̇ in [-1, 1)")
    near_list(obs, {cos(st.theta), sin(st.theta), st.theta_dot}, 0, "reset observation")
    T.eq(type(info), "table")
    lo_th, hi_th = math.min(lo_th, st.theta), math.max(hi_th, st.theta)
    lo_d, hi_d = math.min(lo_d, st.theta_dot), math.max(hi_d, st.theta_dot)
  end
  T.ok(lo_th < -3 and hi_th > 3 and lo_d < -0.95 and hi_d > 0.95, "resets span the ranges")
  env:reset(7)
  for k = 1, 200 do
    local _, _, term, trunc = env:step(k % 3 - 1)
    T.eq(term, false, "never terminates")
    T.eq(trunc, k == 200, "truncated exactly at step 200, step " .. k)
  end
  T.raises("call reset() before step(): the episode has ended", env.step, env, 0)
  local short = envs.Pendulum{max_episode_steps = 3}
  short:reset(1)
  for k = 1, 3 do local _, _, _, trunc = short:step(0); T.eq(trunc, k == 3) end
end)

---------------------------------------------------------------------------
-- CartPole-v1

-- ENVS.md, written out again: returns the next (x, ẋ, θ, θ̇).
local function cartpole_ref(s, a)
  local g, mc, mp, l, tau = 9.8, 1.0, 0.1, 0.5, 0.02
  local x, xd, th, thd = s[1], s[2], s[3], s[4]
  local F = a == 1 and 10 or -10
  local temp = (F + mp * l * thd ^ 2 * sin(th)) / (mc + mp)
  local thacc = (g * sin(th) - cos(th) * temp) / (l * (4 / 3 - mp * cos(th) ^ 2 / (mc + mp)))
  local xacc = temp - mp * l * thacc * cos(th) / (mc + mp)
  return {x + tau * xd, xd + tau * xacc, th + tau * thd, thd + tau * thacc}
end

T.case("CartPole: steps against ENVS.md by hand, literal values", function()
  local env = envs.CartPole{}
  env:reset(0)
  local s0 = {x = 0.01, x_dot = 0.1, theta = 0.02, theta_dot = -0.3}
  env:set_state(state_with(env, s0))
  local obs = env:step(1)
  near_list(obs, {0.012, 0.2948312527955417, 0.014, -0.5863088237579204}, 1e-14, "push right (Python)")
  env:set_state(state_with(env, s0))
  obs = env:step(0)
  near_list(obs, {0.012, -0.09540122972774706, 0.014, -0.0010771658154715702}, 1e-14, "push left (Python)")
  local s = {0.03, -0.2, -0.04, 0.5}
  env:set_state(state_with(env, {x = s[1], x_dot = s[2], theta = s[3], theta_dot = s[4], steps = 0}))
  for k, a in ipairs{1, 1, 0, 1, 0, 0, 0, 1} do
    s = cartpole_ref(s, a)
    local o, r, term, trunc = env:step(a)
    near_list(o, s, 1e-12, "step " .. k)
    T.eq(r, 1.0); T.eq(term, false); T.eq(trunc, false)
  end
end)

T.case("CartPole: termination at |x| > 2.4 and |θ| > 12° with reward 1, 500-step limit", function()
  local env = envs.make("CartPole-v1")
  T.eq(env.solved_threshold, 475); T.eq(env.max_episode_steps, 500)
  local as = env.action_space
  T.eq(as.type, "discrete"); T.eq(as.n, 2); eq_list(as.nvec, {2}); T.eq(#as.low, 0); T.eq(#as.high, 0)
  local os_ = env.observation_space
  eq_list(os_.low, {-4.8, -math.huge, -2 * 0.20943951023931953, -math.huge})
  eq_list(os_.high, {4.8, math.huge, 2 * 0.20943951023931953, math.huge})
  env:reset(0)
  local function from(fields, a)
    fields.done = false
    env:set_state(state_with(env, fields))
    local o, r, term, trunc = env:step(a)
    return o, r, term, trunc
  end
  -- x crosses 2.4 (x' = x + τ·ẋ uses the old speed).
  local o, r, term = from({x = 2.39, x_dot = 1.0, theta = 0.0, theta_dot = 0.0}, 1)
  T.ok(o[1] > 2.4, "x beyond 2.4"); T.eq(term, true, "terminated at x > 2.4"); T.eq(r, 1.0, "reward 1 on the terminating step")
  T.raises("call reset() before step(): the episode has ended", env.step, env, 0)
  _, r, term = from({x = -2.39, x_dot = -1.0, theta = 0.0, theta_dot = 0.0}, 0)
  T.eq(term, true, "terminated at x < -2.4"); T.eq(r, 1.0)
  _, _, term = from({x = 2.38, x_dot = 0.5, theta = 0.0, theta_dot = 0.0}, 1)
  T.eq(term, false, "x = 2.39 is inside")
  -- θ: 12° = 0.20943951023931953 rad.
  _, r, term = from({x = 0.0, x_dot = 0.0, theta = 0.2, theta_dot = 0.5}, 1)
  T.eq(term, true, "terminated at θ = 0.21"); T.eq(r, 1.0)
  _, _, term = from({x = 0.0, x_dot = 0.0, theta = 0.2, theta_dot = 0.45}, 1)
  T.eq(term, false, "θ = 0.209 < 0.2094 is inside")
  _, _, term = from({x = 0.0, x_dot = 0.0, theta = -0.2, theta_dot = -0.5}, 0)
  T.eq(term, true, "terminated at θ = -0.21")
  -- Reset distribution: each component U(-0.05, 0.05).
  local lo, hi = {1, 1, 1, 1}, {-1, -1, -1, -1}
  for s = 1, 300 do
    local obs = env:reset(s)
    for j = 1, 4 do
      T.ok(obs[j] >= -0.05 and obs[j] < 0.05, "reset component in [-0.05, 0.05)")
      lo[j], hi[j] = math.min(lo[j], obs[j]), math.max(hi[j], obs[j])
    end
  end
  for j = 1, 4 do T.ok(lo[j] < -0.048 and hi[j] > 0.048, "reset spans component " .. j) end
  -- A balancing controller reaches the limit: truncated exactly at 500.
  for seed = 1, 3 do
    local obs = env:reset(seed)
    for k = 1, 500 do
      local a = (obs[3] + 0.5 * obs[4] + 0.05 * obs[1] + 0.1 * obs[2]) > 0 and 1 or 0
      local rew, te, tr
      obs, rew, te, tr = env:step(a)
      T.eq(te, false, "balanced")
      T.eq(tr, k == 500, "truncated exactly at step 500, step " .. k)
    end
  end
  -- Both flags can be true on the last step.
  env:reset(1)
  env:set_state(state_with(env, {steps = 499, x = 2.39, x_dot = 1.0}))
  local _, _, te, tr = env:step(1)
  T.eq(te, true); T.eq(tr, true)
end)

---------------------------------------------------------------------------
-- MountainCarContinuous-v0

-- ENVS.md, written out again: position', speed', reward, terminated.
local function mountaincar_ref(pos, v, a)
  local f = clip(a, -1, 1)
  v = clip(v + f * 0.0015 - 0.0025 * cos(3 * pos), -0.07, 0.07)
  pos = clip(pos + v, -1.2, 0.6)
  if pos == -1.2 and v < 0 then v = 0 end
  local done = pos >= 0.45 and v >= 0
  return pos, v, -0.1 * f ^ 2 + (done and 100 or 0), done
end

T.case("MountainCar: steps against ENVS.md by hand, goal reward, left wall", function()
  local env = envs.MountainCarContinuous{}
  env:reset(0)
  env:set_state(state_with(env, {position = -0.5, velocity = 0.01}))
  local o, r, term = env:step({0.7})
  near_list(o, {-0.48912684300416925, 0.010873156995830743}, 1e-14, "Python values")
  T.near(r, -0.048999999999999995, 1e-14); T.eq(term, false)
  local pos, v = -0.3, -0.05
  env:set_state(state_with(env, {position = pos, velocity = v}))
  for k, a in ipairs{1.0, -2.0, 0.3, -0.8, 5, 0.0, -0.1} do
    local want_r, want_term
    pos, v, want_r, want_term = mountaincar_ref(pos, v, a)
    local obs, rew, te = env:step(a)
    near_list(obs, {pos, v}, 1e-12, "step " .. k)
    T.near(rew, want_r, 1e-12, "reward at step " .. k)
    T.eq(te, want_term)
  end
  -- The goal: 100 minus the action cost on the terminating step.
  env:set_state(state_with(env, {position = 0.44, velocity = 0.02, steps = 10, done = false}))
  o, r, term = env:step(0.5)
  near_list(o, {0.4601295613708691, 0.02012956137086907}, 1e-14, "goal step (Python)")
  T.eq(term, true); T.near(r, 99.975, 1e-12, "100 − 0.1·0.5²")
  T.raises("call reset() before step(): the episode has ended", env.step, env, 0)
  -- At the goal position but moving left: not done.
  env:set_state(state_with(env, {position = 0.46, velocity = -0.001, done = false}))
  _, _, term = env:step(-1)
  T.eq(term, false, "speed < 0 at the goal")
  -- The left wall stops the car.
  env:set_state(state_with(env, {position = -1.19, velocity = -0.05, done = false}))
  o, r = env:step(-1)
  same_list(o, {-1.2, 0.0}, "wall: position -1.2, speed 0")
  T.near(r, -0.1, 1e-15)
  -- Clipped action: 3 behaves as 1, and costs as 1.
  env:set_state(state_with(env, {position = -0.5, velocity = 0.0}))
  local o1, r1 = env:step(3)
  env:set_state(state_with(env, {position = -0.5, velocity = 0.0}))
  local o2, r2 = env:step({1})
  same_list(o1, o2, "clipped"); T.eq(r1, r2)
end)

T.case("MountainCar: reset distribution, spaces, 999-step limit", function()
  local env = envs.make("MountainCarContinuous-v0")
  T.eq(env.solved_threshold, 90); T.eq(env.max_episode_steps, 999)
  eq_list(env.observation_space.low, {-1.2, -0.07}); eq_list(env.observation_space.high, {0.6, 0.07})
  eq_list(env.action_space.low, {-1}); eq_list(env.action_space.high, {1})
  local lo, hi = 0, -1
  for s = 1, 300 do
    local obs = env:reset(s)
    T.ok(obs[1] >= -0.6 and obs[1] < -0.4, "position in [-0.6, -0.4)")
    T.eq(obs[2], 0.0, "speed 0")
    lo, hi = math.min(lo, obs[1]), math.max(hi, obs[1])
  end
  T.ok(lo < -0.59 and hi > -0.41, "resets span [-0.6, -0.4)")
  env:reset(3)
  for k = 1, 999 do
    local _, _, te, tr = env:step(0)   -- without force the car never gets out
    T.eq(te, false)
    T.eq(tr, k == 999, "truncated exactly at step 999, step " .. k)
  end
end)

---------------------------------------------------------------------------
-- ReachGrab-v0: scripted vs random, and the one-kind simplifications

local RG = require("vksac.envs.reachgrab").constants

-- Near-optimal by hand: fast gear toward a far target, slow gear (exact)
-- for the last 0.1, grab inside the window.
local function scripted(obs)
  local d = obs[3]
  if abs(d) <= RG.grab_radius then return {cont = {0}, discrete = {0, 1}} end
  if abs(d) <= 2 * RG.slow_speed then return {cont = {clip(d / RG.slow_speed, -1, 1)}, discrete = {0, 0}} end
  return {cont = {clip(d / RG.fast_speed, -1, 1)}, discrete = {1, 0}}
end

local function mean_return(policy, episodes)
  local env = envs.ReachGrab{}
  local rng = Random(77)
  local total = 0
  for e = 1, episodes do
    local obs = env:reset(1000 + e - 1)
    local ret = 0
    while true do
      local o, r, term, trunc = env:step(policy(obs, rng, env))
      obs, ret = o, ret + r
      if term or trunc then break end
    end
    total = total + ret
  end
  return total / episodes
end

T.case("ReachGrab: hand-checked steps, spaces, limits", function()
  local env = envs.make("ReachGrab-v0")
  T.eq(env.max_episode_steps, 200)
  T.eq(env.action_space.type, "hybrid"); eq_list(env.action_space.nvec, {2, 2})
  eq_list(env.observation_space.low, {-1, -1, -2}); eq_list(env.observation_space.high, {1, 1, 2})
  local obs, info = env:reset(3)
  T.eq(info.grabs, 0)
  T.ok(abs(obs[2] - obs[1]) >= 0.25, "a new target starts at least 0.25 away")
  T.eq(obs[3], obs[2] - obs[1])
  -- Slow move: exactly 0.05·u, reward −0.01 + progress.
  env:set_state(state_with(env, {position = 0.0, target = 0.5}))
  local o, r = env:step({cont = {0.6}, discrete = {0, 0}})
  T.near(o[1], 0.03, 1e-15); T.near(r, -0.01 + 0.03, 1e-15)
  -- Fast move: 0.2·u plus a shake within ±0.1, fuel 0.02·|u|.
  env:set_state(state_with(env, {position = 0.0, target = 0.5}))
  o, r = env:step({cont = {-0.5}, discrete = {1, 0}})
  T.ok(o[1] >= -0.2 and o[1] <= 0.0, "fast move within the shake")
  T.near(r, -0.01 - 0.01 + (0.5 - abs(0.5 - o[1])), 1e-15)
  -- Moves stop at the ends of the rail.
  env:set_state(state_with(env, {position = 0.98, target = 0.5}))
  o = env:step({cont = {1}, discrete = {0, 0}})
  T.eq(o[1], 1.0)
  -- Grabs: inside the window +10 and a new target; outside −1.
  env:set_state(state_with(env, {position = 0.3, target = 0.34, grabs = 2}))
  o, r, _, _, info = env:step({cont = {0.9}, discrete = {1, 1}})
  T.near(r, 10 - 0.01, 1e-15); T.eq(info.grabs, 3); T.eq(o[1], 0.3, "grabbing does not move")
  T.ok(o[2] ~= 0.34 and abs(o[2] - 0.3) >= 0.25, "new target")
  env:set_state(state_with(env, {position = 0.3, target = 0.36}))
  o, r = env:step({cont = {0}, discrete = {0, 1}})
  T.near(r, -1 - 0.01, 1e-15); T.eq(o[2], 0.36, "a missed grab keeps the target")
  env:reset(4)
  for k = 1, 200 do
    local _, _, te, tr = env:step({cont = {0.1}, discrete = {0, 0}})
    T.eq(te, false); T.eq(tr, k == 200)
  end
end)

T.case("ReachGrab: scripted ≥ solved threshold > random; one-kind policies fail", function()
  local env = envs.ReachGrab{}
  local threshold = env.solved_threshold
  local s = mean_return(scripted, 20)
  local rnd = mean_return(function(_, rng, e)
    return envs.to_action(e.action_space, envs.sample_action(e.action_space, rng))
  end, 20)
  print(string.format("  ReachGrab-v0 over 20 seeded episodes: scripted %.1f, random %.1f, threshold %g",
                      s, rnd, threshold))
  T.ok(s >= threshold, "scripted policy reaches the threshold")
  T.ok(threshold > rnd + 100, "threshold well above random")
  T.ok(threshold >= 0.75 * s and threshold <= 0.85 * s, "threshold about 80% of scripted")
  -- Continuous only (the discrete heads fixed at move): no grab, ever.
  local cont_only = mean_return(function(obs)
    local a = scripted(obs); a.discrete = {1, 0}; return a
  end, 20)
  T.ok(cont_only < 10, "continuous only: " .. cont_only)
  -- Discrete only (the throttle fixed), with the scripted discrete choices.
  for _, u in ipairs{-1, 0, 1} do
    local disc_only = mean_return(function(obs)
      local a = scripted(obs); a.cont = {u}; return a
    end, 20)
    T.ok(disc_only < 0.2 * threshold, "discrete only, u = " .. u .. ": " .. disc_only)
  end
  -- One gear only: slow is far too slow.
  local slow_only = mean_return(function(obs)
    local a = scripted(obs); a.discrete[1] = 0; a.cont = {clip(obs[3] / RG.slow_speed, -1, 1)}; return a
  end, 20)
  T.ok(slow_only < threshold, "slow gear only: " .. slow_only)
end)

os.exit(T.run())
