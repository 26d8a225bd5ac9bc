-- vksac.train: options, logs, checkpoints, exact resume, Ctrl-C, errors.
-- Runs are tiny (16-unit nets, a few hundred steps): this tests the loop,
-- not learning (tests/learning/ does that).
local T = require "testing"
local vksac = require "vksac"
local core = require "vksac.core"
local log = require "vksac.train.log"

local dir = os.tmpname()
os.remove(dir)
assert(os.execute("mkdir -p " .. dir))
local function path(name) return dir .. "/" .. name end

local TINY = {dim_hidden = 16, mlp_depth = 1}

local function opts(extra)
  local o = {env = "Pendulum-v1", agent = TINY, total_steps = 400, warmup_steps = 100, batch_size = 32,
             eval_every = 200, eval_episodes = 2, quiet = true, seed = 3}
  for k, v in pairs(extra or {}) do o[k] = v end
  return o
end

-- Deterministic actions on fixed states, and the last statistics: what two
-- agents must agree on to be the same agent.
local probe = vksac.tensor({{1, 0, 0.5}, {0, 1, -2}, {-1, 0, 7}, {0.6, 0.8, -0.1}})
local function fingerprint(agent)
  local a = agent:act(probe):totable()
  local st = agent:stats()
  return {a[1][1], a[2][1], a[3][1], a[4][1], st.critic_loss, st.actor_loss, st.alpha, st.updates}
end
local function same(x, y, what)
  for i = 1, #x do T.eq(y[i], x[i], what .. " " .. i) end
end

-- The CSV without its time column, which differs between runs.
local function rows_without_time(file)
  local out = {}
  for _, r in ipairs(assert(log.read(file))) do
    r.time = nil
    local keys = {}
    for k, v in pairs(r) do keys[#keys + 1] = k .. "=" .. tostring(v) end
    table.sort(keys)
    out[#out + 1] = table.concat(keys, " ")
  end
  return out
end

T.case("a short run: result, log, checkpoint", function()
  local episodes = 0
  local r = vksac.train(opts{log = path("a.csv"), checkpoint = path("a.safetensors"),
                             callback = function(e) if e.kind == "episode" then episodes = episodes + 1 end end})
  T.eq(r.steps, 400)
  T.eq(r.episodes, 2, "200-step episodes")
  T.eq(episodes, 2, "callback per episode")
  T.eq(r.evaluations, 2)
  T.eq(r.updates, 301, "updates start at the end of warm-up")
  T.eq(r.interrupted, false)
  T.ok(r.eval_return < 0 and r.eval_return >= -2000, "a Pendulum return")
  T.eq(r.checkpoint, path("a.safetensors"))
  local rows = log.read(path("a.csv"))
  T.eq(#rows, 4, "2 episodes + 2 evaluations")
  T.eq(rows[1].kind, "episode")
  T.eq(rows[1].step, 200)
  T.eq(rows[1].length, 200)
  T.eq(rows[2].kind, "eval")
  T.eq(rows[2].length, 200)
  T.near(rows[4]["return"], r.eval_return, 1e-8)
  local loaded = assert(vksac.load(path("a.safetensors")))
  local x, y = fingerprint(r.agent), fingerprint(loaded)
  for i = 1, 4 do T.eq(y[i], x[i], "checkpoint = final agent: action " .. i) end
  T.eq(y[8], x[8], "updates")
end)

-- A run cut at step 300 (mid-episode, two copies) and resumed gives the
-- same agent and the same log as the run without the cut.
T.case("resume continues a run exactly", function()
  local straight = vksac.train(opts{num_envs = 2, total_steps = 600, eval_every = 300, log = path("s.csv")})
  local o = opts{num_envs = 2, total_steps = 300, eval_every = 300, log = path("r.csv"),
                 checkpoint = path("r.safetensors")}
  vksac.train(o)
  o.total_steps, o.resume = 600, path("r.safetensors")
  local resumed = vksac.train(o)
  T.eq(resumed.steps, 600)
  same(fingerprint(straight.agent), fingerprint(resumed.agent), "resumed")
  local a, b = rows_without_time(path("s.csv")), rows_without_time(path("r.csv"))
  T.eq(#b, #a, "log rows")
  for i = 1, #a do T.eq(b[i], a[i], "log row " .. i) end
end)

-- Ctrl-C: the loop stops at the next step, saves, returns; resuming then
-- gives the same agent as a run that was never interrupted.
T.case("Ctrl-C checkpoints and resumes exactly", function()
  local straight = vksac.train(opts{total_steps = 500})
  local o = opts{total_steps = 500, checkpoint = path("c.safetensors"), callback = function(e)
    if e.kind ~= "episode" or e.episode ~= 1 then return end
    -- In the background, and late enough that system() has returned: it
    -- ignores SIGINT in its caller while it waits.
    os.execute("(sleep 0.5; kill -INT $PPID) &")
    -- Wait for the signal here, so the step the loop stops at does not
    -- depend on how long the evaluation after this episode takes.
    local deadline = core.clock() + 10
    while not core.interrupted() and core.clock() < deadline do end
  end}
  local r = vksac.train(o)
  T.eq(r.interrupted, true)
  T.eq(r.steps, 200, "stopped at the step the signal came in")
  o.resume, o.callback = path("c.safetensors"), nil
  local resumed = vksac.train(o)
  T.eq(resumed.steps, 500)
  same(fingerprint(straight.agent), fingerprint(resumed.agent), "resumed after Ctrl-C")
end)

T.case("an error in the environment: traceback and a checkpoint", function()
  local function broken(i)
    local env = vksac.envs.Pendulum{}
    local step = env.step
    local n = 0
    env.step = function(self, a)
      n = n + 1
      if n == 150 and i == 1 then error("the physics broke") end
      return step(self, a)
    end
    return env
  end
  local ok, err = pcall(vksac.train, opts{env = broken, checkpoint = path("e.safetensors"), eval_every = 0})
  T.ok(not ok, "raises")
  err = tostring(err)
  T.ok(err:find("training stopped at step 149: .*the physics broke") ~= nil, err)
  T.ok(err:find("stack traceback:", 1, true) ~= nil, "has a traceback: " .. err)
  T.ok(err:find("checkpoint of step 149 saved to " .. path("e.safetensors"), 1, true) ~= nil, err)
  local agent = assert(vksac.load(path("e.safetensors")))
  T.eq(agent:stats().observed, 149)
  -- Resuming from it starts new episodes and runs on.
  local r = vksac.train(opts{resume = path("e.safetensors"), eval_every = 0, total_steps = 300})
  T.eq(r.steps, 300)
end)

T.case("NaN rewards and observations are reported with the step", function()
  local function nan_at(k, what)
    return function()
      local env = vksac.envs.Pendulum{}
      local step, n = env.step, 0
      env.step = function(self, a)
        local o, r, te, tr, info = step(self, a)
        n = n + 1
        if n == k then
          if what == "reward" then r = 0 / 0 else o = {o[1], math.huge, o[3]} end
        end
        return o, r, te, tr, info
      end
      return env
    end
  end
  local ok, err = pcall(vksac.train, opts{env = nan_at(42, "reward"), eval_every = 0})
  T.ok(not ok)
  T.ok(tostring(err):find("environment 1 returned reward NaN at step 42", 1, true) ~= nil, tostring(err))
  ok, err = pcall(vksac.train, opts{env = nan_at(7, "obs"), eval_every = 0})
  T.ok(not ok)
  T.ok(tostring(err):find("environment 1 returned observation[2] = +inf at step 7", 1, true) ~= nil, tostring(err))
end)

T.case("stopping: target_return and a callback returning false", function()
  local r = vksac.train(opts{total_steps = 2000, eval_every = 100, target_return = -1e9})
  T.eq(r.stopped, true)
  T.eq(r.steps, 100)
  T.eq(r.solved_step, 100)
  r = vksac.train(opts{total_steps = 2000, eval_every = 0, callback = function(e) return e.episode ~= 1 end})
  T.eq(r.stopped, true)
  T.eq(r.steps, 200)
end)

T.case("discrete and hybrid environments", function()
  local r = vksac.train(opts{env = "CartPole-v1", total_steps = 300, eval_episodes = 1, eval_every = 300})
  T.eq(r.steps, 300)
  T.ok(r.episodes >= 1, "CartPole episodes are short at first")
  T.eq(r.agent:config().num_discrete_actions[1], 2)
  r = vksac.train(opts{env = "ReachGrab-v0", total_steps = 300, eval_episodes = 1, eval_every = 300,
                       num_envs = 3})
  T.eq(r.steps, 300)
  local cfg = r.agent:config()
  T.eq(cfg.num_cont_actions, 1)
  T.eq(#cfg.num_discrete_actions, 2)
end)

T.case("a warm-up policy acts during warm-up only, checked", function()
  local calls, seen = 0, {}
  local function env()
    local e = vksac.envs.Pendulum{}
    local step = e.step
    e.step = function(self, a)
      seen[#seen + 1] = a[1]
      return step(self, a)
    end
    return e
  end
  local function push(obs, rng, i)
    calls = calls + 1
    T.eq(#obs, 3, "a Pendulum observation")
    T.eq(type(rng.uniform), "function", "the loop's random generator")
    T.ok(i == 1 or i == 2, "the copy's number")
    return {i == 1 and 1.5 or -7}
  end
  local r = vksac.train(opts{env = env, num_envs = 2, warmup_policy = push, eval_every = 0, total_steps = 200})
  T.eq(r.steps, 200)
  T.eq(calls, 100, "one call per copy and warm-up step, none after")
  T.eq(seen[1], 1.5)
  T.eq(seen[2], -2, "clipped to the bounds")
  local ok, err = pcall(vksac.train, opts{env = "CartPole-v1", eval_every = 0,
                                          warmup_policy = function() return 7 end})
  T.ok(not ok)
  T.ok(tostring(err):find("warmup_policy returned an invalid action for environment 1 at step 1: " ..
                          "discrete action must be an integer in 0..1, got 7", 1, true) ~= nil, tostring(err))
  ok, err = pcall(vksac.train, opts{env = "ReachGrab-v0", eval_every = 0,
                                    warmup_policy = function() return {cont = {0}} end})
  T.ok(not ok)
  T.ok(tostring(err):find("environment 1 at step 1: action.discrete must be a table of 2 integers, got nil", 1,
                          true) ~= nil, tostring(err))
end)

T.case("progress lines when not a terminal", function()
  local out = io.open(path("progress.txt"), "w")
  local o = opts{progress = "auto", output = out, total_steps = 1000}
  o.quiet = nil
  vksac.train(o)
  out:close()
  local text = io.open(path("progress.txt")):read("a")
  T.ok(text:find("eval at step 200: return %-?[%d.]+ ± [%d.]+ over 2 episodes") ~= nil, text)
  T.ok(text:find("step 1000/1000  %d+ steps/s  ep %-?[%d.]+  eval") ~= nil, text)
  T.ok(not text:find("\r", 1, true), "no carriage returns")
end)

T.case("learning curve PNG, or a message saying gnuplot is missing", function()
  vksac.train(opts{total_steps = 400, log = path("p.csv")})
  local ok, msg = vksac.plot_curve(path("p.csv"), path("p.png"))
  if os.execute("command -v gnuplot >/dev/null 2>&1") then
    T.eq(ok, true, msg)
    local png = assert(io.open(path("p.png"), "rb")):read(8)
    T.eq(png, "\137PNG\r\n\26\n", "PNG signature")
  else
    T.eq(ok, nil)
    T.ok(msg:find("gnuplot is not installed", 1, true) ~= nil, msg)
  end
end)

T.case("bad options", function()
  local function raises(pattern, o)
    local ok, err = pcall(vksac.train, o)
    T.ok(not ok, "expected an error matching " .. pattern)
    T.ok(tostring(err):find(pattern, 1, true) ~= nil, "got: " .. tostring(err))
  end
  raises("bad argument #1 to 'train' (table expected, got 5)", 5)
  raises("bad argument #1 to 'train' (unknown option 'total_step'; did you mean 'total_steps'?)",
         {env = "Pendulum-v1", total_step = 10})
  raises("bad argument #1 to 'train' (field 'total_steps' is required (environment steps to train for))",
         {env = "Pendulum-v1"})
  raises("bad argument #1 to 'train' (field 'total_steps' must be a positive integer, got -5)",
         {env = "Pendulum-v1", total_steps = -5})
  raises("bad argument #1 to 'train' (field 'env' must be an environment name, a function returning an environment, or an environment; got 3)",
         {env = 3, total_steps = 10})
  raises("bad argument #1 to 'train' (field 'env' is not a known environment: 'Pendulum-v9' (known: CartPole-v1, ",
         {env = "Pendulum-v9", total_steps = 10})
  raises("bad argument #1 to 'train' (field 'progress' must be 'auto', 'bar', 'lines' or 'none', got 'fancy')",
         {env = "Pendulum-v1", total_steps = 10, progress = "fancy"})
  raises("bad argument #1 to 'train' (field 'checkpoint_every' needs 'checkpoint' (the file to write))",
         {env = "Pendulum-v1", total_steps = 10, checkpoint_every = 5})
  raises("bad argument #1 to 'train' (field 'agent' sets dim_state, which comes from the environment)",
         {env = "Pendulum-v1", total_steps = 10, agent = {dim_state = 4}})
  raises("bad argument #1 to 'train' (field 'warmup_policy' must be a function, got 3)",
         {env = "Pendulum-v1", total_steps = 10, warmup_policy = 3})
  raises("bad argument #1 to 'train' (field 'plot' needs 'log' (the CSV it is drawn from))",
         {env = "Pendulum-v1", total_steps = 10, plot = "x.png"})
  raises("bad argument #1 to 'train' (field 'resume' names a checkpoint without a training loop's state",
         {env = "Pendulum-v1", total_steps = 10, resume = path("plain.safetensors"),
          agent = nil, quiet = true, eval_every = 0} )
end)

-- A checkpoint made by agent:save (no loop state) for the last case.
do
  local agent = vksac.SAC{actor = {dim_state = 3, num_cont_actions = 1, dim_hidden = 16, mlp_depth = 1},
                          critics = {{dim_state = 3, num_cont_actions = 1, dim_hidden = 16, mlp_depth = 1}}}
  assert(agent:save(path("plain.safetensors")))
end

local status = T.run()
os.execute("rm -rf " .. dir)
os.exit(status)
