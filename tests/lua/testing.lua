-- A small test runner for the Lua tests (run by ctest through `vksac`).
--
--   local T = require "testing"
--   T.case("name", function() T.eq(1 + 1, 2) end)
--   T.raises("bad argument #1 to 'Actor' (...)", vksac.Actor, {dim_state = -3})
--   os.exit(T.run())
--
-- Every case runs in a protected call; run() prints one line per case and
-- returns 0 when all passed. It also fails when the Vulkan validation
-- layer reported anything (VKSAC_VALIDATION=1 is set by ctest).
local T = {cases = {}}

local function fmt(v)
  if type(v) == "string" then return string.format("%q", v) end
  return tostring(v)
end

function T.case(name, fn) T.cases[#T.cases + 1] = {name = name, fn = fn} end

function T.eq(got, want, what)
  if got ~= want then
    error(string.format("%sexpected %s, got %s", what and (what .. ": ") or "", fmt(want), fmt(got)), 2)
  end
end

function T.near(got, want, tol, what)
  tol = tol or 1e-6
  if not (math.abs(got - want) <= tol * math.max(1, math.abs(want))) then
    error(string.format("%sexpected %s ± %g, got %s", what and (what .. ": ") or "", fmt(want), tol, fmt(got)), 2)
  end
end

function T.ok(cond, what)
  if not cond then error("expected true: " .. (what or "condition"), 2) end
end

-- Calls fn(...) and asserts that it raises exactly `message` (a string)
-- or a message matching `message` when it is {pattern = "..."}.
function T.raises(message, fn, ...)
  local ok, err = pcall(fn, ...)
  if ok then error("expected an error: " .. fmt(type(message) == "table" and message.pattern or message), 2) end
  err = tostring(err)
  if type(message) == "table" then
    if not err:find(message.pattern) then
      error(string.format("error %s does not match %s", fmt(err), fmt(message.pattern)), 2)
    end
  elseif err ~= message then
    error(string.format("wrong error message\n  want %s\n  got  %s", fmt(message), fmt(err)), 2)
  end
end

function T.run()
  local failed = 0
  for _, c in ipairs(T.cases) do
    local ok, err = xpcall(c.fn, debug.traceback)
    print(string.format("%s %s", ok and "ok  " or "FAIL", c.name))
    if not ok then
      failed = failed + 1
      print("  " .. tostring(err):gsub("\n", "\n  "))
    end
  end
  collectgarbage()
  collectgarbage()
  local vk = package.loaded["vksac.core"]
  local msgs = vk and vk.validation_messages and vk.validation_messages() or 0
  if msgs > 0 then
    print(string.format("FAIL validation layer reported %d message(s)", msgs))
    failed = failed + 1
  end
  print(string.format("%d of %d cases passed", #T.cases - failed + (msgs > 0 and 1 or 0), #T.cases))
  return failed == 0 and 0 or 1
end

return T
