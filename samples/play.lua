-- Loads a checkpoint (a training checkpoint or a policy export) and runs
-- deterministic episodes, printing each return.
--
--   build/vksac samples/play.lua pendulum.safetensors [episodes] [env id]
--
-- The environment comes from the checkpoint when vksac.train wrote it;
-- otherwise give its id (see vksac.envs.names()).
local vksac = require "vksac"
local json = require "vksac.json"

local path = arg and arg[1]
if not path then
  io.stderr:write("usage: vksac samples/play.lua CHECKPOINT [episodes] [env id]\n")
  os.exit(2)
end
local episodes = math.tointeger(tonumber(arg[2] or "10"))
local agent = assert(vksac.load(path))

local id = arg[3]
if not id then
  local ok, state = pcall(json.decode, agent:metadata() or "")
  id = ok and type(state) == "table" and state.env_id or nil
end
if not id then
  io.stderr:write(path .. " does not say which environment it was trained on: give its id as the third argument\n")
  os.exit(2)
end

local env = vksac.envs.make(id)
local total = 0
for e = 1, episodes do
  local obs = env:reset(1000 + e)
  local ret, len = 0, 0
  repeat
    local cont, disc = agent:act(vksac.tensor({obs}))
    local action = vksac.envs.to_action(env.action_space, cont and cont:totable()[1], disc and disc:totable()[1])
    local reward, terminated, truncated
    obs, reward, terminated, truncated = env:step(action)
    ret, len = ret + reward, len + 1
  until terminated or truncated
  total = total + ret
  print(string.format("episode %2d: return %8.1f  length %d", e, ret, len))
end
print(string.format("mean return %.1f over %d episodes of %s", total / episodes, episodes, id))
