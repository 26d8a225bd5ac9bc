-- The environments' interface (vksac.envs): actions and their checks,
-- constructors and options, seeding, state()/set_state(), the Vector's
-- auto-reset and the space conversions. test_envs.lua checks the dynamics.
package.path = "./?.lua;" .. package.path
local T = require "testing"
local vksac = require "vksac"
local envs = vksac.envs
local Random = vksac.Random
local H = require "envs_helpers"
local clip, same_list, eq_list, near_list = H.clip, H.same_list, H.eq_list, H.near_list
local state_with, is_plain = H.state_with, H.is_plain
local pi, sin, cos, abs = math.pi, math.sin, math.cos, math.abs

-- Actions, options and errors

T.case("actions: clipping, plain numbers and tables, integral floats", function()
  local env = envs.Pendulum{}
  env:reset(4)
  local s = env:state()
  local a = {env:step(2)}
  for _, act in ipairs{5, {2}, {100}, math.huge, {2.0}} do
    env:set_state(s)
    local b = {env:step(act)}
    same_list(a[1], b[1], "clipped observation")
    T.eq(a[2], b[2], "clipped reward")
  end
  env:set_state(s)
  local c = {env:step(-math.huge)}
  env:set_state(s)
  local d = {env:step(-2)}
  same_list(c[1], d[1])
  local cp = envs.CartPole{}
  cp:reset(1)
  local st = cp:state()
  local o1 = cp:step(1)
  cp:set_state(st)
  local o2 = cp:step(1.0)
  same_list(o1, o2, "1.0 is action 1")
end)

T.case("actions: bad actions raise exact messages", function()
  local p = envs.Pendulum{}
  T.raises("call reset() before the first step()", p.step, p, 0)
  p:reset(1)
  local function bad(env, msg, action)
    T.raises("bad argument #1 to 'step' (" .. msg .. ")", env.step, env, action)
  end
  bad(p, "action must be a number, got nan", 0 / 0)
  bad(p, "action[1] must be a number, got nan", {0 / 0})
  bad(p, "action[1] must be a number, got 'x'", {"x"})
  bad(p, "box action must be a number or a table of 1 number, got 'x'", "x")
  bad(p, "box action must be a number or a table of 1 number, got nil", nil)
  bad(p, "box action must be a number or a table of 1 number, got true", true)
  bad(p, "box action must have 1 value, got 2", {1, 2})
  bad(p, "box action must have 1 value, got 0", {})
  local mc = envs.MountainCarContinuous{}
  mc:reset(1)
  bad(mc, "action must be a number, got nan", 0 / 0)
  local cp = envs.CartPole{}
  cp:reset(1)
  bad(cp, "discrete action must be an integer in 0..1, got 2", 2)
  bad(cp, "discrete action must be an integer in 0..1, got -1", -1)
  bad(cp, "discrete action must be an integer in 0..1, got 0.5", 0.5)
  bad(cp, "discrete action must be an integer in 0..1, got nan", 0 / 0)
  bad(cp, "discrete action must be an integer in 0..1, got '1'", "1")
  bad(cp, "discrete action must be an integer in 0..1, got a table", {1})
  bad(cp, "discrete action must be an integer in 0..1, got nil", nil)
  bad(cp, "discrete action must be an integer in 0..1, got inf", math.huge)
  local rg = envs.ReachGrab{}
  rg:reset(1)
  bad(rg, "hybrid action must be a table {cont = {...}, discrete = {...}}, got 3", 3)
  bad(rg, "action.cont must be a number or a table of 1 number, got nil", {discrete = {0, 0}})
  bad(rg, "action.cont[1] must be a number, got nan", {cont = {0 / 0}, discrete = {0, 0}})
  bad(rg, "action.cont must have 1 value, got 2", {cont = {0, 0}, discrete = {0, 0}})
  bad(rg, "action.discrete must be a table of 2 integers, got nil", {cont = {0}})
  bad(rg, "action.discrete must have 2 values, got 1", {cont = {0}, discrete = {0}})
  bad(rg, "action.discrete[1] must be an integer in 0..1, got 2", {cont = {0}, discrete = {2, 0}})
  bad(rg, "action.discrete[2] must be an integer in 0..1, got 0.5", {cont = 0, discrete = {1, 0.5}})
  -- A bad action changes nothing: the episode goes on.
  local s = rg:state()
  T.raises({pattern = "must be an integer"}, rg.step, rg, {cont = {0}, discrete = {0, 7}})
  same_list({rg:state().position, rg:state().steps}, {s.position, s.steps}, "state unchanged")
  -- The messages point at the caller (error level 2).
  T.raises({pattern = "^[^ ]*test_envs_api%.lua:%d+: bad argument #1 to 'step'"}, function() cp:step(5) end)
  T.raises({pattern = "^[^ ]*test_envs_api%.lua:%d+: bad argument #1 to 'step'"}, function() p:step("x") end)
  T.raises({pattern = "^[^ ]*test_envs_api%.lua:%d+: bad argument #1 to 'step'"}, function() rg:step(1) end)
  T.raises({pattern = "^[^ ]*test_envs_api%.lua:%d+: call reset%(%)"}, function() envs.CartPole{}:step(1) end)
  T.raises({pattern = "^[^ ]*test_envs_api%.lua:%d+: bad argument #1 to 'reset'"}, function() cp:reset("s") end)
end)

T.case("constructors: options, unknown keys, make, names", function()
  local names = envs.names()
  same_list(names, {"CartPole-v1", "MountainCarContinuous-v0", "Pendulum-v1", "ReachGrab-v0"}, "names")
  for _, id in ipairs(names) do
    local env = envs.make(id, {max_episode_steps = 7})
    T.eq(env.id, id); T.eq(env.max_episode_steps, 7)
    T.eq(type(env.solved_threshold), "number")
  end
  T.raises("bad argument #1 to 'CartPole' (unknown option 'max_steps')", envs.CartPole, {max_steps = 3})
  T.raises("bad argument #1 to 'CartPole' (unknown option 'max_episode_step'; did you mean 'max_episode_steps'?)",
           envs.CartPole, {max_episode_step = 3})
  T.raises("bad argument #1 to 'Pendulum' (unknown option 'sead'; did you mean 'seed'?)", envs.Pendulum, {sead = 3})
  T.raises("bad argument #1 to 'Pendulum' (field 'max_episode_steps' must be a positive integer, got 0)",
           envs.Pendulum, {max_episode_steps = 0})
  T.raises("bad argument #1 to 'Pendulum' (field 'max_episode_steps' must be a positive integer, got 2.5)",
           envs.Pendulum, {max_episode_steps = 2.5})
  T.raises("bad argument #1 to 'ReachGrab' (field 'seed' must be an integer, got 'x')", envs.ReachGrab, {seed = "x"})
  T.raises("bad argument #1 to 'MountainCarContinuous' (options table expected, got 5)", envs.MountainCarContinuous, 5)
  T.raises("bad argument #1 to 'CartPole' (keys must be option names, got 1)", envs.CartPole, {1})
  T.raises("bad argument #2 to 'make' (unknown option 'foo')", envs.make, "CartPole-v1", {foo = 1})
  T.raises("bad argument #1 to 'make' (unknown environment 'Cartpole-v1'; known: CartPole-v1, "
           .. "MountainCarContinuous-v0, Pendulum-v1, ReachGrab-v0)", envs.make, "Cartpole-v1")
  T.raises({pattern = "^bad argument #1 to 'make' %(unknown environment nil; known: "}, envs.make)
  T.raises({pattern = "^[^ ]*test_envs_api%.lua:%d+: bad argument #1 to 'CartPole'"}, function() envs.CartPole{x = 1} end)
  T.raises({pattern = "^[^ ]*test_envs_api%.lua:%d+: bad argument #2 to 'make'"}, function() envs.make("Pendulum-v1", {x = 1}) end)
  T.raises("bad argument #1 to 'reset' (seed must be an integer, got 1.5)", envs.CartPole{}.reset, envs.CartPole{}, 1.5)
  -- The seed option sets the RNG before the first seeded reset.
  local a, b = envs.CartPole{seed = 5}, envs.CartPole{}
  local ra = a:reset()
  local rb = b:reset(5)
  same_list(ra, rb, "seed option = reset(seed)")
  T.ok(tostring(a):find("CartPole%-v1"), "tostring")
end)

---------------------------------------------------------------------------
-- Seeding and state

-- Runs `steps` random actions (from rng, auto-resetting without a seed);
-- returns the flat list of observations and rewards.
local function rollout(env, rng, steps)
  local out = {}
  for _ = 1, steps do
    local c, d = envs.sample_action(env.action_space, rng)
    local obs, r, term, trunc = env:step(envs.to_action(env.action_space, c, d))
    for _, x in ipairs(obs) do out[#out + 1] = x end
    out[#out + 1] = r
    if term or trunc then
      out[#out + 1] = -12345.0   -- marks episode ends
      for _, x in ipairs((env:reset())) do out[#out + 1] = x end
    end
  end
  return out
end

T.case("seeding: same seed, same trajectory; reset without seed continues", function()
  for _, id in ipairs(envs.names()) do
    local e1, e2 = envs.make(id, {max_episode_steps = 60}), envs.make(id, {max_episode_steps = 60})
    same_list(e1:reset(11), e2:reset(11), id .. " reset")
    same_list(rollout(e1, Random(3), 250), rollout(e2, Random(3), 250), id .. " trajectory")
    local a = e1:reset(12)
    local b = e1:reset(13)
    local c = e1:reset(12)
    same_list(a, c, id .. " reset(12) again")
    T.ok(a[1] ~= b[1], id .. ": seeds 12 and 13 differ")
    local d1 = e1:reset()
    local d2 = e1:reset()
    T.ok(d1[1] ~= d2[1], id .. ": unseeded resets continue the stream")
  end
end)

T.case("state: plain data, round trip gives identical continuations", function()
  local json_ok, json = pcall(require, "vksac.json")
  for _, id in ipairs(envs.names()) do
    local env = envs.make(id, {max_episode_steps = 40})
    local fresh = envs.make(id, {max_episode_steps = 40})
    T.ok(is_plain(fresh:state()), id .. ": state before reset is plain")
    env:reset(21)
    rollout(env, Random(1), 57)
    local s = env:state()
    T.ok(is_plain(s), id .. ": state is plain data")
    fresh:set_state(s)
    same_list(rollout(env, Random(2), 120), rollout(fresh, Random(2), 120), id .. " continuation")
    -- The state does not alias the env: changing it later changes nothing.
    local s2 = env:state()
    local word = s2.rng[1]
    s2.rng[1], s2.steps = word + 1, 12345
    T.eq(env:state().rng[1], word, "state is a copy")
    if json_ok then
      -- Through the training loop's JSON (checkpoints): still identical.
      local text = json.encode(env:state())
      local other = envs.make(id, {max_episode_steps = 40})
      other:set_state(json.decode(text))
      same_list(rollout(env, Random(4), 80), rollout(other, Random(4), 80), id .. " through JSON")
    end
  end
  -- A finished episode stays finished.
  local env = envs.CartPole{}
  env:reset(1)
  env:set_state(state_with(env, {x = 2.39, x_dot = 1.0}))
  env:step(1)
  local other = envs.CartPole{}
  other:set_state(env:state())
  T.raises("call reset() before step(): the episode has ended", other.step, other, 0)
end)

T.case("state: set_state validates", function()
  local env = envs.CartPole{}
  env:reset(1)
  local function bad(msg, fields)
    local s = env:state()
    for k, v in pairs(fields) do s[k] = v end
    T.raises("bad argument #1 to 'set_state' (" .. msg .. ")", env.set_state, env, s)
  end
  T.raises("bad argument #1 to 'set_state' (state table expected, got 3)", env.set_state, env, 3)
  bad("state of 'Pendulum-v1' given to a CartPole-v1 environment", {id = "Pendulum-v1"})
  local no_id = env:state(); no_id.id = nil
  T.raises("bad argument #1 to 'set_state' (state of nil given to a CartPole-v1 environment)", env.set_state, env, no_id)
  bad("unknown field 'foo'", {foo = 1})
  bad("field 'x' must be a finite number, got nan", {x = 0 / 0})
  local no_x_dot = env:state(); no_x_dot.x_dot = nil
  T.raises("bad argument #1 to 'set_state' (field 'x_dot' must be a finite number, got nil)", env.set_state, env, no_x_dot)
  bad("field 'theta' must be a finite number, got inf", {theta = math.huge})
  bad("field 'steps' must be a non-negative integer, got -1", {steps = -1})
  bad("field 'steps' must be a non-negative integer, got 1.5", {steps = 1.5})
  bad("field 'done' must be a boolean, got 0", {done = 0})
  bad("field 'rng': RNG state must not be all zero", {rng = {0, 0, 0, 0}})
  bad("field 'rng': RNG state[1] must be an integer, got 0.5", {rng = {0.5, 1, 2, 3}})
  local mc = envs.MountainCarContinuous{}
  mc:reset(1)
  T.raises("bad argument #1 to 'set_state' (field 'position' must be in [-1.2, 0.6], got 0.7)",
           mc.set_state, mc, state_with(mc, {position = 0.7}))
  local rg = envs.ReachGrab{}
  rg:reset(1)
  T.raises("bad argument #1 to 'set_state' (field 'grabs' must be a non-negative integer, got -2)",
           rg.set_state, rg, state_with(rg, {grabs = -2}))
  T.raises({pattern = "^[^ ]*test_envs_api%.lua:%d+: bad argument #1 to 'set_state'"}, function() env:set_state({}) end)
  -- A rejected state changes nothing.
  local before = env:state()
  pcall(env.set_state, env, state_with(env, {x = 0 / 0}))
  same_list({env:state().x, env:state().steps}, {before.x, before.steps})
end)

---------------------------------------------------------------------------
-- Vector

T.case("Vector: seeds seed + i - 1, auto-reset with final_observation and episode stats", function()
  local n = 3
  local vec = envs.Vector("CartPole-v1", n)
  T.eq(vec.num_envs, n); T.eq(vec.action_space.type, "discrete"); eq_list(vec.observation_space.shape, {4})
  T.eq(vec.max_episode_steps, 500)
  T.raises("call reset() before the first step()", vec.step, vec, {0, 0, 0})
  local obs = vec:reset(100)
  T.eq(#obs, n)
  local singles = {}
  for i = 1, n do
    singles[i] = envs.CartPole{}
    same_list(obs[i], (singles[i]:reset(100 + i - 1)), "copy " .. i .. " seeded " .. (100 + i - 1))
  end
  -- Step with per-copy policies until every copy has ended two episodes;
  -- each copy must match its single env stepped and reset by hand.
  local rng = Random(8)
  local ended = {0, 0, 0}
  local ret, len = {0, 0, 0}, {0, 0, 0}
  for _ = 1, 400 do
    local actions = {}
    for i = 1, n do actions[i] = rng:integer(2) end
    local o, r, term, trunc, infos = vec:step(actions)
    T.eq(#o, n); T.eq(#r, n); T.eq(#term, n); T.eq(#trunc, n); T.eq(#infos, n)
    for i = 1, n do
      local so, sr, st, su = singles[i]:step(actions[i])
      T.eq(r[i], sr); T.eq(term[i], st); T.eq(trunc[i], su)
      ret[i], len[i] = ret[i] + sr, len[i] + 1
      if st or su then
        same_list(infos[i].final_observation, so, "final_observation")
        T.eq(infos[i].episode.r, ret[i], "episode return")
        T.eq(infos[i].episode.l, len[i], "episode length")
        same_list(o[i], (singles[i]:reset()), "obs is the next episode's first")
        ended[i] = ended[i] + 1
        ret[i], len[i] = 0, 0
      else
        same_list(o[i], so, "observation")
        T.eq(infos[i].final_observation, nil); T.eq(infos[i].episode, nil)
      end
    end
  end
  for i = 1, n do T.ok(ended[i] >= 2, "copy " .. i .. " ended episodes") end
  -- Without a seed the copies start from seeds 0, 1, ...: they differ.
  local v2 = envs.Vector("Pendulum-v1", 2)
  local o2 = v2:reset()
  T.ok(o2[1][1] ~= o2[2][1], "unseeded copies differ")
  same_list(o2[2], (envs.Pendulum{seed = 1}:reset()), "copy 2 has seed 1")
end)

T.case("Vector: state round trip, make functions, bad calls", function()
  local vec = envs.Vector("ReachGrab-v0", 3, {max_episode_steps = 25})
  vec:reset(5)
  local function run(v, seed, steps)
    local rng, out = Random(seed), {}
    for _ = 1, steps do
      local actions = {}
      for i = 1, v.num_envs do
        actions[i] = envs.to_action(v.action_space, envs.sample_action(v.action_space, rng))
      end
      local o, r, _, _, infos = v:step(actions)
      for i = 1, v.num_envs do
        for _, x in ipairs(o[i]) do out[#out + 1] = x end
        out[#out + 1] = r[i]
        if infos[i].episode then out[#out + 1] = infos[i].episode.r end
      end
    end
    return out
  end
  run(vec, 1, 40)
  local s = vec:state()
  T.ok(is_plain(s), "vector state is plain")
  local other = envs.Vector("ReachGrab-v0", 3, {max_episode_steps = 25})
  other:set_state(s)
  same_list(run(vec, 2, 60), run(other, 2, 60), "vector continuation")
  T.raises("bad argument #1 to 'set_state' (state of 3 copies given to a vector of 2)",
           envs.Vector("ReachGrab-v0", 2).set_state, envs.Vector("ReachGrab-v0", 2), s)
  s.envs[2].steps = -1
  T.raises("bad argument #1 to 'set_state' (envs[2]: field 'steps' must be a non-negative integer, got -1)",
           other.set_state, other, s)
  -- A make function: called as make(i).
  local fv = envs.Vector(function(i) return envs.MountainCarContinuous{seed = 10 * i} end, 2)
  local fo = fv:reset()
  same_list(fo[2], (envs.MountainCarContinuous{}:reset(20)), "make(i)")
  T.raises("bad argument #1 to 'step' (a list of 2 actions expected, got 1 actions)", fv.step, fv, {0})
  T.raises("bad argument #1 to 'step' (actions[2]: action must be a number, got nan)", fv.step, fv, {0, 0 / 0})
  local cv = envs.Vector("CartPole-v1", 2)
  cv:reset(1)
  T.raises("bad argument #1 to 'step' (actions[1]: discrete action must be an integer in 0..1, got 5)",
           cv.step, cv, {5, 0})
  T.raises("bad argument #1 to 'Vector' (unknown environment 'Nope'; known: CartPole-v1, "
           .. "MountainCarContinuous-v0, Pendulum-v1, ReachGrab-v0)", envs.Vector, "Nope", 2)
  T.raises("bad argument #3 to 'Vector' (unknown option 'foo')", envs.Vector, "CartPole-v1", 2, {foo = 1})
  T.raises("bad argument #2 to 'Vector' (number of copies must be a positive integer, got 0)", envs.Vector, "CartPole-v1", 0)
  T.raises("bad argument #1 to 'Vector' (make(1) must return an environment, got nil)", envs.Vector, function() end, 2)
  T.raises("bad argument #1 to 'Vector' (make(2) returned a Pendulum-v1, copy 1 is a CartPole-v1)", envs.Vector,
           function(i) return i == 1 and envs.CartPole{} or envs.Pendulum{} end, 2)
  T.raises({pattern = "^[^ ]*test_envs_api%.lua:%d+: bad argument #1 to 'step'"}, function() cv:step({0}) end)
end)

---------------------------------------------------------------------------
-- Spaces and agent options

T.case("spaces: to_action, from_action, sample_action, agent_options", function()
  local p, c, m, h = envs.Pendulum{}, envs.CartPole{}, envs.MountainCarContinuous{}, envs.ReachGrab{}
  local o = envs.agent_options(p)
  T.eq(o.dim_state, 3); T.eq(o.num_cont_actions, 1); eq_list(o.action_low, {-2}); eq_list(o.action_high, {2})
  T.eq(o.num_discrete_actions, nil)
  o = envs.agent_options(c)
  T.eq(o.dim_state, 4); eq_list(o.num_discrete_actions, {2})
  T.eq(o.num_cont_actions, nil); T.eq(o.action_low, nil); T.eq(o.action_high, nil)
  o = envs.agent_options(m)
  T.eq(o.dim_state, 2); T.eq(o.num_cont_actions, 1); eq_list(o.action_low, {-1})
  o = envs.agent_options(h)
  T.eq(o.dim_state, 3); T.eq(o.num_cont_actions, 1); eq_list(o.num_discrete_actions, {2, 2})
  eq_list(o.action_low, {-1}); eq_list(o.action_high, {1})
  T.eq(envs.agent_options(envs.Vector("ReachGrab-v0", 2)).dim_state, 3, "a Vector works too")
  T.raises("bad argument #1 to 'agent_options' (environment expected, got 3)", envs.agent_options, 3)

  T.eq(envs.to_action(c.action_space, nil, {1}), 1)
  local a = envs.to_action(h.action_space, {0.5}, {1, 0})
  same_list(a.cont, {0.5}); same_list(a.discrete, {1, 0})
  same_list(envs.to_action(p.action_space, {1.5}), {1.5})
  local cont, disc = envs.from_action(p.action_space, {5})
  same_list(cont, {2.0}, "clipped as step clips"); T.eq(disc, nil)
  cont, disc = envs.from_action(c.action_space, 1)
  T.eq(cont, nil); same_list(disc, {1})
  cont, disc = envs.from_action(h.action_space, {cont = -3, discrete = {0, 1}})
  same_list(cont, {-1.0}); same_list(disc, {0, 1})
  local md = envs.spaces.multi_discrete({3, 4})
  same_list(envs.to_action(md, nil, {2, 3}), {2, 3})
  T.raises("bad argument #2 to 'to_action' (action[2] must be an integer in 0..3, got 4)", envs.to_action, md, nil, {2, 4})
  T.raises("bad argument #2 to 'to_action' (multi-discrete action must have 2 values, got 1)", envs.to_action, md, nil, {2})
  T.raises("bad argument #2 to 'to_action' (discrete action must be an integer in 0..1, got 2)",
           envs.to_action, c.action_space, nil, {2})
  T.raises("bad argument #2 to 'from_action' (box action must be a number or a table of 1 number, got nil)",
           envs.from_action, p.action_space, nil)
  T.raises("bad argument #1 to 'to_action' (space expected, got nil)", envs.to_action, nil, {1})
  T.raises("bad argument #2 to 'sample_action' (vksac.Random expected, got nil)", envs.sample_action, c.action_space)
  local rng = Random(2)
  local seen = {}
  for _ = 1, 200 do
    local sc, sd = envs.sample_action(h.action_space, rng)
    T.ok(sc[1] >= -1 and sc[1] < 1, "cont in [low, high)")
    T.ok(sd[1] >= 0 and sd[1] <= 1 and sd[2] >= 0 and sd[2] <= 1, "heads in range")
    seen[sd[1] * 2 + sd[2]] = true
    local pc, pd = envs.sample_action(p.action_space, rng)
    T.ok(pc[1] >= -2 and pc[1] < 2 and pd == nil, "pendulum sample")
  end
  for k = 0, 3 do T.ok(seen[k], "every discrete combination sampled") end
end)

T.case("spaces: agent_options build matching Actors", function()
  for _, id in ipairs(envs.names()) do
    local env = envs.make(id)
    local o = envs.agent_options(env)
    o.dim_hidden, o.mlp_depth, o.seed = 16, 1, 3
    local actor = vksac.Actor(o)
    local obs = env:reset(1)
    local cont, disc = actor(obs)
    local action = envs.to_action(env.action_space, cont and cont:totable(), disc and disc:totable())
    local _, r = env:step(action)
    T.eq(type(r), "number", id .. ": an action of the Actor steps the env")
    actor:close()
  end
end)

---------------------------------------------------------------------------
os.exit(T.run())
