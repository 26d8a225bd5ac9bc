-- vksac.train{…}: the training loop (docs/train.md). Steps N copies of an
-- environment with the agent's sampled actions (uniform random ones, or
-- warmup_policy's, during warm-up), adds every transition to the replay
-- buffer, runs the updates, evaluates the deterministic policy now and then,
-- logs, checkpoints and resumes exactly.
local core = require "vksac.core"
local envs = require "vksac.envs"
local Random = require "vksac.rng"
local json = require "vksac.json"
local options = require "vksac.options"
local progress = require "vksac.train.progress"
local log = require "vksac.train.log"
local evaluate = require "vksac.train.evaluate"
local plot = require "vksac.plot"

local KEYS = {"env", "env_options", "num_envs", "agent", "total_steps", "warmup_steps", "warmup_policy",
              "batch_size", "updates_per_step", "eval_every", "eval_episodes", "seed", "log", "checkpoint",
              "checkpoint_every", "resume", "progress", "quiet", "output", "target_return", "plot",
              "callback"}

-- The format of the loop's state in a checkpoint's metadata.
local STATE_VERSION = 1

local function is_sac(x)
  local mt = getmetatable(x)
  return type(mt) == "table" and rawget(mt, "__name") == "vksac.SAC"
end

local function finite(x) return x == x and x ~= math.huge and x ~= -math.huge end

local function show_number(x)
  if x ~= x then return "NaN" end
  if x == math.huge then return "+inf" end
  if x == -math.huge then return "-inf" end
  return tostring(x)
end

local function finite_row(row)
  for j, x in ipairs(row) do
    if type(x) ~= "number" or not finite(x) then return false, j, x end
  end
  return true
end

-- Reads and checks the options; returns the plan of the run.
local function parse(opts)
  local c = options.new("train", 1, 4)
  if type(opts) ~= "table" then
    error(string.format("bad argument #1 to 'train' (table expected, got %s)", options.describe(opts)), 3)
  end
  c.keys(opts, KEYS)
  local p = {}
  p.env = opts.env
  local kind = type(p.env)
  if kind ~= "string" and kind ~= "function" and kind ~= "table" then
    c.fail("env", "must be an environment name, a function returning an environment, or an environment; got %s",
           options.describe(p.env))
  end
  if kind == "string" then
    local names = envs.names()
    local known = false
    for _, n in ipairs(names) do known = known or n == p.env end
    if not known then
      c.fail("env", "is not a known environment: %s (known: %s)", options.describe(p.env), table.concat(names, ", "))
    end
  end
  p.env_options = c.typed(opts, "env_options", "table")
  if p.env_options and kind ~= "string" then c.fail("env_options", "applies only when 'env' is a name") end
  p.num_envs = c.integer(opts, "num_envs", 1)
  p.total_steps = c.integer(opts, "total_steps", nil)
  if not p.total_steps then c.fail("total_steps", "is required (environment steps to train for)") end
  p.warmup_steps = c.integer(opts, "warmup_steps", 1000, 0)
  p.warmup_policy = c.typed(opts, "warmup_policy", "function")
  p.batch_size = c.integer(opts, "batch_size", nil)
  p.updates_per_step = c.integer(opts, "updates_per_step", nil)
  p.eval_every = c.integer(opts, "eval_every", 5000, 0)
  p.eval_episodes = c.integer(opts, "eval_episodes", 10)
  p.seed = c.integer(opts, "seed", 1, 0)
  p.log = c.string(opts, "log", nil)
  p.checkpoint = c.string(opts, "checkpoint", nil)
  p.checkpoint_every = c.integer(opts, "checkpoint_every", 0, 0)
  if p.checkpoint_every > 0 and not p.checkpoint then
    c.fail("checkpoint_every", "needs 'checkpoint' (the file to write)")
  end
  p.resume = c.string(opts, "resume", nil)
  p.quiet = c.boolean(opts, "quiet", false)
  p.progress = c.choice(opts, "progress", p.quiet and "none" or "auto", {"auto", "bar", "lines", "none"})
  if p.quiet and p.progress ~= "none" then c.fail("quiet", "contradicts progress = '%s'", p.progress) end
  p.output = opts.output or io.stdout
  if io.type(p.output) ~= "file" then c.fail("output", "must be an open file, got %s", options.describe(p.output)) end
  p.target_return = c.number(opts, "target_return", nil)
  p.plot = c.string(opts, "plot", nil)
  if p.plot and not p.log then c.fail("plot", "needs 'log' (the CSV it is drawn from)") end
  p.callback = c.typed(opts, "callback", "function")
  p.agent = opts.agent or {}
  if not is_sac(p.agent) and type(p.agent) ~= "table" then
    c.fail("agent", "must be a SAC or a table of SAC options, got %s", options.describe(p.agent))
  end
  if is_sac(p.agent) and (p.batch_size or p.updates_per_step) then
    c.fail(p.batch_size and "batch_size" or "updates_per_step", "is the agent's own option when 'agent' is a SAC")
  end
  if p.resume and is_sac(p.agent) then c.fail("resume", "loads its agent; do not also give a SAC as 'agent'") end
  p.fail = c.fail
  return p
end

-- A function that makes one copy of the environment.
local function env_maker(p)
  if type(p.env) == "string" then
    local name, o = p.env, p.env_options
    return function() return envs.make(name, o) end
  elseif type(p.env) == "function" then
    return p.env
  end
  -- An environment object: training uses it; copies (more envs, evaluation)
  -- come from its id.
  local given, id = p.env, p.env.id
  return function()
    if given then
      local e = given
      given = nil
      return e
    end
    if type(id) ~= "string" then
      p.fail("env", "is an environment object without an 'id' naming its kind; give a name or a function to make copies")
    end
    return envs.make(id)
  end
end

-- Options of both networks that train accepts at the top of `agent` (the
-- SAC itself takes them inside `actor` and `critics`).
local SHARED = {"dim_hidden", "mlp_depth", "expansion", "activation", "final_norm"}
-- Options of the critics only (DroQ's dropout, TQC's quantiles).
local CRITIC_ONLY = {"dropout", "num_quantiles"}

local function copy_into(dst, src)
  for k, v in pairs(src or {}) do dst[k] = v end
  return dst
end

-- The SAC's options: networks sized for the environment (dim_state, the
-- action sizes and bounds) with the user's options, `num_critics` critics,
-- and the loop's batch_size, updates_per_step and seed.
local function agent_options(p, env)
  local sizes = envs.agent_options(env)
  local o = copy_into({}, p.agent)
  for k, v in pairs(sizes) do
    if o[k] ~= nil then p.fail("agent", "sets %s, which comes from the environment", k) end
  end
  local shared, critic_only = {}, {}
  for _, k in ipairs(SHARED) do shared[k], o[k] = o[k], nil end
  for _, k in ipairs(CRITIC_ONLY) do critic_only[k], o[k] = o[k], nil end
  local num_critics = o.num_critics or 2
  o.num_critics = nil
  if math.type(num_critics) ~= "integer" or num_critics < 1 then
    p.fail("agent", "field 'num_critics' must be a positive integer, got %s", options.describe(num_critics))
  end
  if type(o.actor) ~= "table" and o.actor ~= nil then p.fail("agent", "field 'actor' must be a table of Actor options here") end
  if type(o.critics) ~= "table" and o.critics ~= nil then p.fail("agent", "field 'critics' must be a table of Critic options here") end
  o.actor = copy_into(copy_into(copy_into({}, sizes), shared), o.actor)
  local critic = copy_into(copy_into(copy_into({}, sizes), shared), critic_only)
  critic.action_low, critic.action_high = nil, nil
  copy_into(critic, o.critics)
  if o.seed == nil then o.seed = p.seed end
  -- Initial weights from the run's seed, as the C API derives them, so
  -- that a run does not depend on the networks made before it.
  if o.actor.seed == nil then o.actor.seed = o.seed + 1 end
  o.critics = {}
  for i = 1, num_critics do
    o.critics[i] = copy_into({}, critic)
    if critic.seed == nil then o.critics[i].seed = o.seed + 2 + (i - 1) end
  end
  o.batch_size = p.batch_size or o.batch_size
  o.updates_per_step = p.updates_per_step or o.updates_per_step
  return o
end

-- The loop's state, saved in checkpoints as JSON.
local function snapshot(s, vec, obs, rng, logger)
  return {
    version = STATE_VERSION, env_id = s.env_id,
    step = s.step, episodes = s.episodes, evals = s.evals, seed = s.seed, num_envs = s.num_envs,
    last_return = s.last_return, last_eval = s.last_eval, best_eval = s.best_eval,
    solved_step = s.solved_step, last_eval_step = s.last_eval_step,
    rng = rng:state(),
    envs = vec and vec:state() or nil,
    obs = vec and obs or nil,
    log_offset = logger and logger.offset() or nil,
  }
end

local function save(agent, path, state)
  local ok, err = agent:save(path, {replay = true, metadata = json.encode(state)})
  if not ok then error("checkpoint not written: " .. err, 0) end
end

-- Checks a resumed state against this run's options.
local function restore(p, meta)
  local ok, state = pcall(json.decode, meta or "")
  if not ok or type(state) ~= "table" or state.version ~= STATE_VERSION then
    p.fail("resume", "names a checkpoint without a training loop's state (saved by agent:save, not vksac.train?)")
  end
  if state.num_envs ~= p.num_envs then
    p.fail("num_envs", "is %d but the checkpoint was taken with %s", p.num_envs, options.describe(state.num_envs))
  end
  return state
end

-- An error in the environment, a callback or the agent, as raised to the
-- caller: the message with its traceback and what was saved.
local function failure(message)
  return setmetatable({message = message}, {__tostring = function(e) return e.message end})
end

local function train(opts)
  local p = parse(opts)
  local make = env_maker(p)
  local vec = envs.Vector(make, p.num_envs)
  local space = vec.action_space
  local agent, state
  if p.resume then
    local err
    agent, err = core.load(p.resume)
    if not agent then p.fail("resume", "%s", err) end
    state = restore(p, agent:metadata())
  elseif is_sac(p.agent) then
    agent = p.agent
  else
    agent = core.SAC(agent_options(p, vec))
  end
  local config = agent:config()
  local utd = config.updates_per_step

  local eval_envs = {}
  if p.eval_every > 0 then
    for i = 1, p.eval_episodes do eval_envs[i] = make() end
  end
  local threshold = p.target_return or vec.solved_threshold

  local s = {step = 0, total = p.total_steps, episodes = 0, evals = 0, seed = p.seed, num_envs = p.num_envs,
             env_id = vec.id, start = core.clock(), stats = nil,
             timing = {act = 0, env = 0, observe = 0, update = 0, eval = 0, checkpoint = 0}}
  local rng = Random(p.seed)
  local obs
  if state then
    for _, k in ipairs({"step", "episodes", "evals", "last_return", "last_eval", "best_eval", "solved_step",
                        "last_eval_step"}) do
      s[k] = state[k]
    end
    rng:set_state(state.rng)
    if state.envs then
      vec:set_state(state.envs)
      obs = state.obs
    else   -- saved after an error: the episodes start again
      obs = vec:reset(p.seed + s.step)
    end
    if s.step > 0 then s.stats = agent:stats() end
  else
    obs = vec:reset(p.seed)
  end

  local logger
  if p.log then
    local err
    logger, err = log.open(p.log, state and state.log_offset)
    if not logger then p.fail("log", "%s", err) end
  end
  local show = progress.new(p.progress, p.output, math.max(1000, p.total_steps // 20))
  local result = {agent = agent}

  local function stats_row(kind, extra)
    local st = s.stats or {}
    local row = {kind = kind, step = s.step, episode = s.episodes, alpha = st.alpha, critic_loss = st.critic_loss,
                 actor_loss = st.actor_loss, entropy = st.entropy, mean_q = st.mean_q, updates = st.updates,
                 time = core.clock() - s.start}
    for k, v in pairs(extra) do row[k] = v end
    if logger then logger.row(row) end
    return row
  end

  local function notify(event)
    if p.callback and p.callback(event) == false then result.stopped = true end
  end

  local function run_eval()
    local t0 = core.clock()
    local mean, std, len, returns = evaluate(agent, eval_envs, (p.seed + 1) * 100000 + s.evals * p.eval_episodes)
    s.timing.eval = s.timing.eval + (core.clock() - t0)
    s.evals = s.evals + 1
    s.last_eval, s.last_eval_step = mean, s.step
    if not s.best_eval or mean > s.best_eval then s.best_eval = mean end
    if threshold and mean >= threshold and not s.solved_step then
      s.solved_step, s.solved_time = s.step, core.clock() - s.start
    end
    stats_row("eval", {["return"] = mean, return_std = std, length = len})
    show.message(string.format("eval at step %d: return %.1f ± %.1f over %d episodes", s.step, mean, std, #returns))
    notify({kind = "eval", step = s.step, mean = mean, std = std, returns = returns})
    if p.target_return and mean >= p.target_return then result.stopped = true end
  end

  local function checkpoint(st)
    local t0 = core.clock()
    save(agent, p.checkpoint, st or snapshot(s, vec, obs, rng, logger))
    s.timing.checkpoint = s.timing.checkpoint + (core.clock() - t0)
    result.checkpoint = p.checkpoint
  end

  -- Copy i's warm-up action in agent form: uniform random, or the warm-up
  -- policy's read as step reads it (checked, continuous values clipped), so
  -- that the replay buffer holds what the environment did.
  local function warmup_action(obs_i, i)
    if not p.warmup_policy then return envs.sample_action(space, rng) end
    local cont_i, disc_i, err = envs.spaces.read(space, p.warmup_policy(obs_i, rng, i))
    if err then
      error(string.format("warmup_policy returned an invalid action for environment %d at step %d: %s", i,
                          s.step + i, err), 0)
    end
    return cont_i, disc_i
  end

  -- One step of every copy: act, step, check, observe, update.
  local function step()
    local n = p.num_envs
    local cont, disc = {}, {}
    local t0 = core.clock()
    if s.step < p.warmup_steps then
      for i = 1, n do cont[i], disc[i] = warmup_action(obs[i], i) end
    else
      local c, d = agent:act(core.tensor(obs), {sample = true})
      cont, disc = c and c:totable() or {}, d and d:totable() or {}
    end
    local actions = {}
    for i = 1, n do actions[i] = envs.to_action(space, cont[i], disc[i]) end
    local t1 = core.clock()
    local next_obs, rewards, terminated, truncated, infos = vec:step(actions)
    local t2 = core.clock()
    local next_states = {}
    for i = 1, n do
      local final = infos[i] and infos[i].final_observation or next_obs[i]
      if not finite(rewards[i]) then
        error(string.format("environment %d returned reward %s at step %d", i, show_number(rewards[i]), s.step + i), 0)
      end
      local ok, j, x = finite_row(final)
      if ok then ok, j, x = finite_row(next_obs[i]) end
      if not ok then
        error(string.format("environment %d returned observation[%d] = %s at step %d", i, j,
                            type(x) == "number" and show_number(x) or options.describe(x), s.step + i), 0)
      end
      next_states[i] = final
    end
    local batch = {states = core.tensor(obs), rewards = core.tensor(rewards),
                   terminated = core.tensor(terminated, "bool"), truncated = core.tensor(truncated, "bool"),
                   next_states = core.tensor(next_states)}
    if #space.low > 0 then batch.cont_actions = core.tensor(cont) end
    if #space.nvec > 0 then batch.discrete_actions = core.tensor(disc, "int32") end
    agent:observe(batch)
    s.step = s.step + n
    obs = next_obs
    local t3 = core.clock()
    if s.step >= p.warmup_steps then
      s.stats = agent:update(n * utd)
    end
    local t4 = core.clock()
    local tm = s.timing
    tm.act, tm.env, tm.observe, tm.update = tm.act + (t1 - t0), tm.env + (t2 - t1), tm.observe + (t3 - t2),
                                            tm.update + (t4 - t3)
    for i = 1, n do
      local ep = infos[i] and infos[i].episode
      if ep then
        s.episodes = s.episodes + 1
        s.last_return = ep.r
        stats_row("episode", {["return"] = ep.r, length = ep.l})
        notify({kind = "episode", step = s.step, episode = s.episodes, ["return"] = ep.r, length = ep.l})
      end
    end
  end

  local function loop()
    local window_step, window_time = s.step, core.clock()
    while s.step < p.total_steps and not result.stopped do
      if core.interrupted() then
        result.interrupted = true
        break
      end
      local before = s.step
      step()
      if p.eval_every > 0 and s.step // p.eval_every > before // p.eval_every then run_eval() end
      if p.checkpoint_every > 0 and s.step // p.checkpoint_every > before // p.checkpoint_every then
        checkpoint()
        show.message(string.format("checkpoint at step %d: %s", s.step, p.checkpoint))
      end
      local now = core.clock()
      if now - window_time >= 1 then
        s.rate = (s.step - window_step) / (now - window_time)
        window_step, window_time = s.step, now
      elseif not s.rate and now > window_time then
        s.rate = (s.step - window_step) / (now - window_time)
      end
      show.update(s)
    end
    if not result.interrupted and p.eval_every > 0 and s.last_eval_step ~= s.step then run_eval() end
  end

  core.catch_interrupt(true)
  local ok, err = xpcall(loop, debug.traceback)
  core.catch_interrupt(false)
  if not ok then
    local saved = ""
    if p.checkpoint then
      local st = snapshot(s, nil, nil, rng, logger)
      local wrote, why = pcall(checkpoint, st)
      saved = wrote and string.format("\ncheckpoint of step %d saved to %s (resume starts new episodes)", s.step,
                                      p.checkpoint)
                    or "\nno checkpoint saved: " .. tostring(why)
    end
    show.message("")
    if logger then logger.close() end
    error(failure(string.format("training stopped at step %d: %s%s", s.step, tostring(err), saved)), 0)
  end
  if p.checkpoint then
    checkpoint()
    if result.interrupted then
      show.message(string.format("interrupted at step %d: checkpoint saved to %s", s.step, p.checkpoint))
    end
  elseif result.interrupted then
    show.message(string.format("interrupted at step %d (no checkpoint option: nothing saved)", s.step))
  end
  show.finish(s)
  if logger then logger.close() end
  if p.plot then
    local drawn, why = plot.curve(p.log, p.plot)
    show.message(drawn and ("learning curve: " .. p.plot) or why)
  end

  result.steps, result.episodes, result.evaluations = s.step, s.episodes, s.evals
  result.updates = s.stats and s.stats.updates or 0
  result.time = core.clock() - s.start
  result.eval_return, result.best_eval_return = s.last_eval, s.best_eval
  result.solved_step, result.solved_time = s.solved_step, s.solved_time
  result.stats = s.stats
  result.timing = s.timing
  result.interrupted = result.interrupted or false
  result.stopped = result.stopped or false
  return result
end

return train
