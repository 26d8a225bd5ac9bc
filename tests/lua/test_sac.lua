-- The Lua API of SAC, Actor, Critic and MultipleCritics: every
-- constructor and call, weights shared between objects and the agent,
-- checkpoints, close semantics, and a table of bad calls with their exact
-- messages.
package.path = "./?.lua;" .. package.path
local T = require "testing"
local vksac = require "vksac"

vksac.manual_seed(7)
local small = {dim_hidden = 16, mlp_depth = 1}
local function with(t, extra)
  local r = {}
  for k, v in pairs(t) do r[k] = v end
  for k, v in pairs(extra or {}) do r[k] = v end
  return r
end
local shape = {dim_state = 5, num_cont_actions = 2, num_discrete_actions = {5, 5}}
local function actor_opts(extra) return with(with(shape, small), extra) end
local function critic_opts(extra) return with(with(shape, small), extra) end
local function max_abs_diff(a, b)
  return ((a - b):abs()):max()
end

T.case("Actor: shapes, dtypes, deterministic and sampled actions", function()
  local actor = vksac.Actor(actor_opts())
  local s = vksac.randn(3, 5)
  local c, d, lpc, lpd = actor(s)
  T.eq(#c:shape(), 2); T.eq(c:shape()[1], 3); T.eq(c:shape()[2], 2)
  T.eq(d:dtype(), "int32"); T.eq(d:shape()[2], 2)
  T.eq(lpc:shape()[1], 3); T.eq(lpd:shape()[2], 2)
  for i = 1, 3 do
    for j = 1, 2 do
      T.ok(d[i][j] >= 0 and d[i][j] <= 4, "discrete index in range")
      T.ok(math.abs(c[i][j]) < 1, "tanh-bounded")
    end
  end
  local c2, d2 = actor(s, {sample = false})
  T.eq(max_abs_diff(c, c2), 0, "deterministic twice")
  T.ok(d == d2, "same discrete choices")
  local c3 = actor(s, {sample = true})
  T.ok(max_abs_diff(c, c3) > 1e-4, "sampling differs from the mean")
end)

T.case("Actor: one state (rank 1) gives unbatched outputs; plain tables are accepted", function()
  local actor = vksac.Actor(actor_opts())
  local c, d, lpc, lpd = actor({0.1, 0.2, 0.3, 0.4, 0.5})
  T.eq(c:dim(), 1); T.eq(#c, 2); T.eq(d:dim(), 1); T.eq(lpc:dim(), 0); T.eq(lpd:dim(), 1)
  local cb = actor({{0.1, 0.2, 0.3, 0.4, 0.5}})
  T.near(cb[1][1], c[1], 1e-6)
end)

T.case("Actor: action bounds per dimension", function()
  local actor = vksac.Actor{dim_state = 3, num_cont_actions = 2, action_low = {0, -5}, action_high = {1, 5},
                            dim_hidden = 8, mlp_depth = 1}
  local c = actor(vksac.randn(64, 3), {sample = true})
  for i = 1, 64 do
    T.ok(c[i][1] >= 0 and c[i][1] <= 1, "dimension 1 in [0, 1]")
    T.ok(c[i][2] >= -5 and c[i][2] <= 5, "dimension 2 in [-5, 5]")
  end
end)

T.case("Actor: discrete only and continuous only", function()
  local disc = vksac.Actor{dim_state = 4, num_discrete_actions = 3, dim_hidden = 8, mlp_depth = 1}
  local c, d, lpc, lpd = disc(vksac.zeros(2, 4))
  T.eq(c, nil); T.eq(d:shape()[2], 1); T.eq(lpc:shape()[1], 2); T.eq(lpd:shape()[2], 1)
  local cont = vksac.Actor{dim_state = 4, num_cont_actions = 1, dim_hidden = 8, mlp_depth = 1}
  local c2, d2, _, lpd2 = cont(vksac.zeros(2, 4))
  T.eq(c2:shape()[2], 1); T.eq(d2, nil); T.eq(lpd2, nil)
end)

T.case("Critic: values per part; quantiles add a dimension", function()
  local critic = vksac.Critic(critic_opts())
  local s, a = vksac.randn(4, 5), vksac.randn(4, 2):clamp(-1, 1)
  local qc, qd = critic(s, a)
  T.eq(qc:dim(), 1); T.eq(#qc, 4)
  T.eq(#qd, 2); T.eq(qd[1]:shape()[1], 4); T.eq(qd[1]:shape()[2], 5)
  local quant = vksac.Critic(critic_opts{num_quantiles = 3})
  local qc3, qd3 = quant(s, a)
  T.eq(qc3:shape()[2], 3); T.eq(qd3[2]:dim(), 3); T.eq(qd3[2]:shape()[3], 3)
  local again = critic(s, a)
  T.eq(max_abs_diff(qc, again), 0, "evaluation is deterministic")
end)

T.case("MultipleCritics stacks its critics' values", function()
  local c1, c2 = vksac.Critic(critic_opts()), vksac.Critic(critic_opts())
  local mc = vksac.MultipleCritics(c1, c2, {use_softmin = true})
  T.eq(#mc, 2)
  local s, a = vksac.randn(3, 5), vksac.zeros(3, 2)
  local q, qd = mc(s, a)
  T.eq(q:shape()[1], 2); T.eq(q:shape()[2], 3)
  T.eq(qd[1]:dim(), 3)
  local q1, q2 = c1(s, a), c2(s, a)
  T.eq(max_abs_diff(q[1], q1), 0); T.eq(max_abs_diff(q[2], q2), 0)
  T.ok(max_abs_diff(q1, q2) > 0, "two critics have their own weights")
  T.eq(mc:critics()[1], c1)
end)

T.case("SAC starts from the Actor's and Critics' weights and trains them", function()
  local actor = vksac.Actor(actor_opts())
  local c1, c2 = vksac.Critic(critic_opts()), vksac.Critic(critic_opts())
  local s, a = vksac.randn(6, 5), vksac.randn(6, 2):clamp(-0.9, 0.9)
  local before = actor(s)
  local q1_before = c1(s, a)
  local agent = vksac.SAC{actor = actor, critics = {c1, c2}, batch_size = 8, replay_capacity = 64}
  T.eq(max_abs_diff(actor(s), before), 0, "actor unchanged by building the SAC")
  T.eq(max_abs_diff(c1(s, a), q1_before), 0, "critic unchanged by building the SAC")
  local q = agent:q(s, a)
  T.eq(max_abs_diff(q[1], q1_before), 0, "agent:q sees critic 1")
  local cont, disc = actor(s, {sample = true})
  local stats = agent{states = s, cont_actions = cont, discrete_actions = disc,
                      rewards = vksac.randn(6), done = vksac.zeros(6):bool(), next_states = s + 1}
  T.eq(stats.updates, 1)
  T.ok(stats.critic_loss > 0 and stats.alpha > 0, "statistics are filled in")
  T.ok(max_abs_diff(actor(s), before) > 0, "the Actor object sees the trained weights")
  T.eq(max_abs_diff(actor(s), (agent:act(s))), 0, "actor(s) is agent:act(s)")
  T.ok(max_abs_diff(c1(s, a), q1_before) > 0, "the Critic object sees the trained weights")
  T.eq(agent:actor(), actor)
  T.eq(agent:critics()[2], c2)
end)

T.case("SAC from option tables, MultipleQuantileCritics (TQC), defaults", function()
  local agent = vksac.SAC{actor = actor_opts(), critics = vksac.MultipleQuantileCritics(
                            critic_opts(), critic_opts(), {frac_atom_keep = 0.8}), batch_size = 4}
  local cfg = agent:config()
  T.eq(cfg.quantiled_critics, true); T.eq(cfg.num_quantiles, 25); T.near(cfg.frac_atom_keep, 0.8)
  T.eq(cfg.num_critics, 2); T.near(cfg.reward_discount_rate, 0.99); T.eq(cfg.batch_size, 4)
  T.eq(cfg.actor_optimizer, "adam_atan2"); T.near(cfg.critic_learning_rate, 3e-4)
  T.eq(cfg.replay_capacity, 1000000); T.near(cfg.target_entropy, -2)
  local q = agent:q(vksac.zeros(2, 5), vksac.zeros(2, 2))
  T.eq(q:shape()[3], 25)
  local default = vksac.SAC{actor = actor_opts(), learning_rate = 1e-3, critic_learning_rate = 5e-4,
                            use_softmin = true, seed = 3}
  local dc = default:config()
  T.eq(dc.num_critics, 2); T.eq(dc.use_softmin, true); T.eq(dc.seed, 3)
  T.near(dc.actor_learning_rate, 1e-3); T.near(dc.critic_learning_rate, 5e-4)
end)

T.case("observe and update(n) on sampled batches; rewards and done broadcast", function()
  local agent = vksac.SAC{actor = actor_opts(), critics = {critic_opts(), critic_opts()}, batch_size = 8}
  local s = vksac.randn(16, 5)
  local c, d = agent:act(s, {sample = true})
  agent:observe{states = s, cont_actions = c, discrete_actions = d, rewards = 1.0, terminated = false,
                truncated = vksac.zeros(16):bool(), next_states = s * 0.5}
  local stats = agent:update(3)
  T.eq(stats.updates, 3); T.eq(stats.observed, 16)
  T.eq(agent:stats().updates, 3)
  T.ok(stats.mean_q == stats.mean_q, "mean_q is a number")
end)

T.case("save, load, export_policy; I/O errors are values", function()
  local agent = vksac.SAC{actor = actor_opts(), critics = {critic_opts(), critic_opts()}, batch_size = 4}
  local s = vksac.randn(4, 5)
  local c, d = agent:act(s, {sample = true})
  agent{states = s, cont_actions = c, discrete_actions = d, rewards = vksac.randn(4), done = vksac.zeros(4),
        next_states = s}
  local path = os.tmpname()
  T.eq(agent:save(path), true)
  local loaded = assert(vksac.load(path))
  T.eq(max_abs_diff(loaded:act(s), agent:act(s)), 0, "identical deterministic actions")
  T.eq(loaded:stats().updates, 1)
  T.eq(max_abs_diff(loaded:actor()(s), agent:act(s)), 0, "the loaded agent's Actor")
  local policy = os.tmpname()
  T.eq(agent:export_policy(policy), true)
  local p = assert(vksac.load(policy))
  T.eq(max_abs_diff(p:act(s), agent:act(s)), 0, "policy export acts the same")
  os.remove(path); os.remove(policy)
  local ok, msg = vksac.load(path)
  T.eq(ok, nil); T.ok(msg:find(path, 1, true) ~= nil, "message names the file: " .. msg)
  local f = io.open(path, "wb"); f:write("not a checkpoint"); f:close()
  local ok2, msg2 = vksac.load(path)
  T.eq(ok2, nil); T.ok(#msg2 > 0, "a message")
  os.remove(path)
  local ok3, msg3 = agent:save("/nonexistent-dir/x.safetensors")
  T.eq(ok3, nil); T.ok(msg3:find("nonexistent", 1, true) ~= nil, msg3)
end)

T.case("save{replay = true, metadata = ...}: the loaded agent resumes exactly; agent:metadata()", function()
  local agent = vksac.SAC{actor = actor_opts(), critics = {critic_opts(), critic_opts()}, batch_size = 8,
                          replay_capacity = 24, seed = 5}
  for i = 1, 3 do   -- 30 transitions into 24 slots: the ring wraps
    local s = vksac.randn(10, 5)
    local c, d = agent:act(s, {sample = true})
    local trunc = {}
    for r = 1, 10 do trunc[r] = (r + i) % 4 == 0 end
    agent:observe{states = s, cont_actions = c, discrete_actions = d, rewards = vksac.randn(10),
                  terminated = vksac.zeros(10):bool(), truncated = trunc, next_states = s * 0.5}
  end
  agent:update(2)
  local meta = '{"step": 30, "env": "a \\"quoted\\" name", "path": "C:\\\\x"}\n\t\1 \u{e9}t\u{e9} \u{1F600}'
  local path = os.tmpname()
  T.eq(agent:save(path, {replay = true, metadata = meta}), true)
  T.eq(agent:metadata(), nil, "a created agent has no metadata")
  local loaded = assert(vksac.load(path))
  T.eq(loaded:metadata(), meta)
  local s = vksac.randn(6, 5)
  for _ = 1, 2 do
    local a, b = agent:update(3), loaded:update(3)
    for _, k in ipairs{"critic_loss", "actor_loss", "alpha", "mean_q", "entropy", "temperature_loss",
                       "mean_target", "updates", "observed"} do
      T.eq(b[k], a[k], "stats." .. k)
    end
    local c1, d1, lc1, ld1 = agent:act(s)
    local c2, d2, lc2, ld2 = loaded:act(s)
    T.eq(max_abs_diff(c1, c2), 0, "deterministic continuous actions")
    T.ok(d1 == d2, "deterministic discrete actions")
    T.eq(max_abs_diff(lc1, lc2), 0); T.eq(max_abs_diff(ld1, ld2), 0)
  end
  -- Without the replay buffer the loaded agent cannot update before observing.
  T.eq(agent:save(path, {metadata = ""}), true)
  local bare = assert(vksac.load(path))
  T.eq(bare:metadata(), nil)
  T.raises("update: the replay buffer is empty; observe transitions before updating",
           bare.update, bare, 1)
  T.eq(agent:save(path), true)
  T.eq(assert(vksac.load(path)):metadata(), nil)
  local ok, msg = agent:save(path, {metadata = "\255"})
  T.eq(ok, nil); T.ok(msg:find("not valid UTF-8", 1, true) ~= nil, msg)
  os.remove(path)
end)

T.case("close: use after close raises; the agent keeps its actor alive; <close> works", function()
  local actor = vksac.Actor(actor_opts())
  local s = vksac.randn(2, 5)
  local agent = vksac.SAC{actor = actor, batch_size = 4}
  local before = agent:act(s)
  actor:close()
  actor:close()
  T.raises("attempt to use a closed Actor", actor, s)
  T.eq(tostring(actor), "Actor (closed)")
  T.eq(max_abs_diff(agent:act(s), before), 0, "agent still acts")
  do
    local a2 <close> = vksac.SAC{actor = actor_opts(), batch_size = 4}
    T.ok(tostring(a2):find("^SAC%(") ~= nil)
  end
  agent:close()
  T.raises("attempt to use a closed SAC", agent.act, agent, s)
  local held = vksac.Actor(actor_opts())
  local kept = vksac.SAC{actor = held}
  held = nil
  collectgarbage(); collectgarbage()
  T.ok(kept:actor() ~= nil, "the SAC kept its Actor")
  T.eq(kept:actor()(s):shape()[2], 2)
end)

T.case("tostring and __name", function()
  local actor = vksac.Actor(actor_opts())
  T.eq(tostring(actor), "Actor(dim_state=5, num_cont_actions=2, num_discrete_actions={5, 5}, dim_hidden=16, mlp_depth=1)")
  T.eq(getmetatable(actor).__name, "vksac.Actor")
  local critic = vksac.Critic(critic_opts{num_quantiles = 4})
  T.eq(tostring(critic), "Critic(dim_state=5, num_cont_actions=2, num_discrete_actions={5, 5}, dim_hidden=16, mlp_depth=1, num_quantiles=4)")
end)

-- Bad calls: each raises exactly this message.
local A = vksac.Actor(actor_opts())
local C = vksac.Critic(critic_opts())
local S = vksac.SAC{actor = actor_opts(), critics = {critic_opts(), critic_opts()}, batch_size = 4}
local good = {states = vksac.zeros(2, 5), cont_actions = vksac.zeros(2, 2), discrete_actions = vksac.zeros(2, 2, "int32"),
              rewards = vksac.zeros(2), done = vksac.zeros(2):bool(), next_states = vksac.zeros(2, 5)}
local bad = {
  {"bad argument #1 to 'Actor' (field 'dim_state' must be a positive integer, got -3)",
   vksac.Actor, {dim_state = -3, num_cont_actions = 1}},
  {"bad argument #1 to 'Actor' (field 'dim_state' is required (the size of a state vector))",
   vksac.Actor, {num_cont_actions = 1}},
  {"bad argument #1 to 'Actor' (table of options expected, got number)", vksac.Actor, 5},
  {"bad argument #1 to 'Actor' (unknown option 'dim_hiden'; did you mean 'dim_hidden'?)",
   vksac.Actor, {dim_state = 3, num_cont_actions = 1, dim_hiden = 3}},
  {"bad argument #1 to 'Actor' (unknown option 'banana')", vksac.Actor, {dim_state = 3, num_cont_actions = 1, banana = 1}},
  {"bad argument #1 to 'Actor' (no actions: set num_cont_actions or num_discrete_actions)", vksac.Actor, {dim_state = 3}},
  {"bad argument #1 to 'Actor' (field 'num_cont_actions' must be a non-negative integer, got 1.5)",
   vksac.Actor, {dim_state = 3, num_cont_actions = 1.5}},
  {"bad argument #1 to 'Actor' (field 'num_discrete_actions' must hold positive integers, got 0 at [2])",
   vksac.Actor, {dim_state = 3, num_discrete_actions = {3, 0}}},
  {"bad argument #1 to 'Actor' (field 'num_discrete_actions[1]' must be in [2, 256], got 1)",
   vksac.Actor, {dim_state = 3, num_discrete_actions = {1}}},
  {"bad argument #1 to 'Actor' (field 'dropout' must be in [0, 1), got 1.5)",
   vksac.Actor, {dim_state = 3, num_cont_actions = 1, dropout = 1.5}},
  {"bad argument #1 to 'Actor' (field 'activation' must be 'relu2', 'relu' or 'crelu', got 'gelu')",
   vksac.Actor, {dim_state = 3, num_cont_actions = 1, activation = "gelu"}},
  {"bad argument #1 to 'Actor' (field 'sigma' must be 'exp' or 'sigmoid', got 'softplus')",
   vksac.Actor, {dim_state = 3, num_cont_actions = 1, sigma = "softplus"}},
  {"bad argument #1 to 'Actor' (field 'action_low' must list 2 numbers, got 1)",
   vksac.Actor, {dim_state = 3, num_cont_actions = 2, action_low = {0}}},
  {"bad argument #1 to 'Actor' (action bounds of dimension 1 must be finite with low < high, got [1, 0])",
   vksac.Actor, {dim_state = 3, num_cont_actions = 1, action_low = 1, action_high = 0}},
  {"bad argument #1 to 'Actor' (field 'final_norm' must be a boolean, got 1)",
   vksac.Actor, {dim_state = 3, num_cont_actions = 1, final_norm = 1}},
  {"bad argument #1 to 'Actor' (field 'seed' must be a positive integer, got -1)",
   vksac.Actor, {dim_state = 3, num_cont_actions = 1, seed = -1}},
  {"bad argument #1 to 'Actor' (keys must be option names, got 1)", vksac.Actor, {5}},
  {"bad argument #1 to 'Critic' (field 'num_quantiles' must be a positive integer, got 0)",
   vksac.Critic, {dim_state = 3, num_cont_actions = 1, num_quantiles = 0}},
  {"bad argument #1 to 'Critic' (unknown option 'sigma')", vksac.Critic, {dim_state = 3, num_cont_actions = 1, sigma = "exp"}},
  {"bad argument #1 to 'Critic' (field 'dim_hidden' must be in [1, 16384], got 100000)",
   vksac.Critic, {dim_state = 3, num_cont_actions = 1, dim_hidden = 100000}},
  {"bad argument #1 to 'actor' (states must be an n×5 tensor (dim_state 5), got shape {2, 4})", A, vksac.zeros(2, 4)},
  {"bad argument #1 to 'actor' (states must be a tensor or a table of numbers, got boolean)", A, true},
  {"bad argument #2 to 'actor' (unknown option 'samples'; did you mean 'sample'?)", A, vksac.zeros(1, 5), {samples = true}},
  {"bad argument #2 to 'actor' (field 'sample' must be a boolean, got 1)", A, vksac.zeros(1, 5), {sample = 1}},
  {"actor: state of row 1 is NaN; values must be finite", A, vksac.full({1, 5}, 0 / 0)},
  {"bad argument #2 to 'critic' (cont_actions must have 2 rows like states, got 3)", C, vksac.zeros(2, 5), vksac.zeros(3, 2)},
  {"bad argument #2 to 'critic' (cont_actions must be an n×2 tensor (num_cont_actions 2), got shape {2, 3})",
   C, vksac.zeros(2, 5), vksac.zeros(2, 3)},
  {"bad argument #1 to 'SAC' (field 'actor' is required (an Actor or a table of Actor options))", vksac.SAC, {}},
  {"bad argument #1 to 'SAC' (unknown option 'critic'; did you mean 'critics'?)", vksac.SAC, {actor = actor_opts(), critic = {}}},
  {"bad argument #1 to 'SAC' (field 'actor' is an Actor that already belongs to a SAC agent)",
   vksac.SAC, {actor = S:actor()}},
  {"bad argument #1 to 'SAC' (field 'critics' [1] has another 'dim_state' than the actor)",
   vksac.SAC, {actor = actor_opts(), critics = {with(critic_opts(), {dim_state = 4})}}},
  {"bad argument #1 to 'SAC' (field 'critics' must share one shape: [2] has another 'dim_hidden' than [1])",
   vksac.SAC, {actor = actor_opts(), critics = {critic_opts(), with(critic_opts(), {dim_hidden = 32})}}},
  {"bad argument #1 to 'SAC' (field 'critics' [1] has num_quantiles 3 but quantiled_critics is false)",
   vksac.SAC, {actor = actor_opts(), critics = {critic_opts{num_quantiles = 3}}, quantiled_critics = false}},
  {"bad argument #1 to 'SAC' (field 'critics' lists the same Critic twice (at [1] and [2]))",
   vksac.SAC, {actor = actor_opts(), critics = {C, C}}},
  {"bad argument #1 to 'SAC' (field 'actor_learning_rate' must be positive, got -1)",
   vksac.SAC, {actor = actor_opts(), actor_learning_rate = -1}},
  {"bad argument #1 to 'SAC' (field 'reward_discount_rate' must be in (0, 1], got 1.5)",
   vksac.SAC, {actor = actor_opts(), reward_discount_rate = 1.5}},
  {"bad argument #1 to 'SAC' (field 'optimizer' must be 'adam_atan2', 'adam' or 'adamw', got 'sgd')",
   vksac.SAC, {actor = actor_opts(), optimizer = "sgd"}},
  {"bad argument #1 to 'SAC' (field 'betas' must list 2 numbers, got 3)", vksac.SAC, {actor = actor_opts(), betas = {0.9, 0.99, 0.999}}},
  {"bad argument #1 to 'SAC' (field 'critics' must list 1 to 16 critics, got 0)", vksac.SAC, {actor = actor_opts(), critics = {}}},
  {"bad argument #1 to 'agent' (field 'states' is required)", S, (function() local t = with(good); t.states = nil; return t end)()},
  {"bad argument #1 to 'agent' (field 'states' must be a tensor or a table of numbers, got boolean)", S, with(good, {states = false})},
  {"bad argument #1 to 'agent' (field 'rewards' must have one value per row (2) or a single value, got 3)",
   S, with(good, {rewards = vksac.zeros(3)})},
  {"bad argument #1 to 'agent' (field 'done' and 'terminated' mean the same; give one)", S, with(good, {terminated = vksac.zeros(2)})},
  {"bad argument #1 to 'agent' (field 'next_states' must be a 2×5 tensor (rows of states × dim_state), got 5 elements in 1 dimension(s))",
   S, with(good, {next_states = vksac.zeros(5)})},
  {"agent: discrete action 1 of row 1 is 7, expected 0..4", S, with(good, {discrete_actions = vksac.full({2, 2}, 7, "int32")})},
  {"bad argument #1 to 'agent' (unknown option 'reward'; did you mean 'rewards'?)", S, with(good, {reward = 1})},
  {"bad argument #1 to 'update' (the number of updates must be in [0, 1000000], got -1)", S.update, S, -1},
  {"bad argument #2 to 'save' (unknown option 'replays'; did you mean 'replay'?)", S.save, S, "unused", {replays = true}},
  {"bad argument #2 to 'save' (unknown option 'metdata'; did you mean 'metadata'?)", S.save, S, "unused", {metdata = "x"}},
  {"bad argument #2 to 'save' (field 'replay' must be a boolean, got 1)", S.save, S, "unused", {replay = 1}},
  {"bad argument #2 to 'save' (field 'metadata' must be a string, got a table)", S.save, S, "unused", {metadata = {}}},
  {"bad argument #2 to 'save' (field 'metadata' must not contain a NUL byte, found one at byte 2)",
   S.save, S, "unused", {metadata = "ab\0c"}},
  {"bad argument #2 to 'save' (table of options expected, got boolean)", S.save, S, "unused", true},
  {"bad argument #1 to 'MultipleCritics' (at least one critic expected)", vksac.MultipleCritics},
  {"bad argument #2 to 'MultipleCritics' (critics must share one shape: 'num_cont_actions' differs from critic 1's)",
   vksac.MultipleCritics, critic_opts(), with(critic_opts(), {num_cont_actions = 1})},
  {"bad argument #1 to 'MultipleQuantileCritics' (quantile critics need num_quantiles > 1)",
   vksac.MultipleQuantileCritics, critic_opts{num_quantiles = 1}},
  {"bad argument #1 to 'init' (unknown option 'devcie'; did you mean 'device'?)", vksac.init, {devcie = "x"}},
}

T.case(string.format("%d bad calls, each with its exact message", #bad), function()
  T.ok(#bad >= 30, "at least 30 bad calls")
  local wrong = {}
  for i, b in ipairs(bad) do
    local ok, err = pcall(b[2], table.unpack(b, 3))
    if ok then
      wrong[#wrong + 1] = string.format("bad call %d did not raise (want %q)", i, b[1])
    elseif err ~= b[1] then
      wrong[#wrong + 1] = string.format("bad call %d:\n  want %q\n  got  %q", i, b[1], tostring(err))
    end
  end
  if #wrong > 0 then error(table.concat(wrong, "\n")) end
end)

T.case("no argument crashes: every entry point with values of every type", function()
  local values = {nil, true, 0, -1, 1e300, 0 / 0, "", "x", {}, {1, 2}, {{1}}, function() end,
                  vksac.zeros(1), A, C, S, io.stdout, coroutine.create(function() end)}
  local calls = {vksac.Actor, vksac.Critic, vksac.SAC, vksac.MultipleCritics, vksac.MultipleQuantileCritics,
                 vksac.load, vksac.init, A, C, S, S.act, S.observe, S.update, S.q, S.config}
  local raised = 0
  for _, f in ipairs(calls) do
    for i = 1, #values + 1 do
      for j = 1, 3 do
        local ok = pcall(f, values[i], values[j])
        if not ok then raised = raised + 1 end
        if f == S.act or f == S.observe or f == S.update or f == S.q or f == S.config then
          pcall(f, S, values[i], values[j])
        end
      end
    end
  end
  T.ok(raised > 100, "most of these raise")
  T.eq(S:act(vksac.zeros(1, 5)):shape()[2], 2, "the agent still works")
end)

os.exit(T.run())
