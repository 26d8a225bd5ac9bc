-- vksac.init{cpu_shards = 2}: agents split each update between two
-- replicas (README, "Threads on lavapipe"). Training, checkpoints and
-- errors work as without shards; tests/test_shards.c checks the numbers.
package.path = "./?.lua;" .. package.path
local T = require "testing"
local vksac = require "vksac"

T.raises("bad argument #1 to 'init' (field 'cpu_shards' must be an integer from 0 to 8, got 9)",
         vksac.init, {cpu_shards = 9})
vksac.init{cpu_shards = 2}

local small = {dim_state = 3, num_cont_actions = 1, dim_hidden = 16, mlp_depth = 1}
local function agent(extra)
  local o = {actor = small, critics = {small, small}, batch_size = 8, seed = 4}
  for k, v in pairs(extra or {}) do o[k] = v end
  return vksac.SAC(o)
end

local function observe(a, n)
  local s = vksac.randn(n, 3)
  a:observe{states = s, cont_actions = a:act(s, {sample = true}), rewards = vksac.randn(n), terminated = false,
            next_states = s * 0.5}
end

T.case("a sharded agent observes, updates, saves and resumes exactly", function()
  vksac.manual_seed(3)
  local a = agent()
  observe(a, 32)
  local st = a:update(4)
  T.eq(st.updates, 4); T.eq(st.observed, 32)
  T.ok(st.critic_loss == st.critic_loss and st.critic_loss >= 0, "critic loss is a number")
  local path = os.tmpname()
  T.eq(a:save(path, {replay = true}), true)
  local b = assert(vksac.load(path))
  os.remove(path)
  local x, y = a:update(3), b:update(3)
  for _, k in ipairs{"critic_loss", "actor_loss", "alpha", "mean_q", "entropy", "updates"} do
    T.eq(y[k], x[k], "stats." .. k)
  end
end)

T.case("Actor objects (batch 1) and a batch the shards cannot split run unsharded", function()
  local actor = vksac.Actor(small)
  T.eq(actor(vksac.randn(4, 3)):size(1), 4)
  local a = agent{batch_size = 9}
  observe(a, 16)
  T.eq(a:update(2).updates, 2)
end)

os.exit(T.run())
