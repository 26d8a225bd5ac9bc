-- Helpers shared by test_envs.lua and test_envs_api.lua.
local T = require "testing"

local H = {}
function H.clip(x, lo, hi) return math.max(lo, math.min(hi, x)) end

function H.same_list(a, b, what)
  T.eq(#a, #b, (what or "list") .. " length")
  for i = 1, #a do
    -- Bit-identical: equal, and the same sign of zero.
    if not (a[i] == b[i] and math.type(a[i]) == math.type(b[i])
            and (a[i] ~= 0 or 1 / a[i] == 1 / b[i])) then
      error(string.format("%s[%d]: %s ~= %s", what or "list", i, tostring(a[i]), tostring(b[i])), 2)
    end
  end
end

-- Equal values (space bounds: floats compared with integer literals).
function H.eq_list(a, b, what)
  T.eq(#a, #b, (what or "list") .. " length")
  for i = 1, #a do T.eq(a[i], b[i], string.format("%s[%d]", what or "list", i)) end
end

function H.near_list(a, b, tol, what)
  T.eq(#a, #b, (what or "list") .. " length")
  for i = 1, #a do T.near(a[i], b[i], tol, string.format("%s[%d]", what or "list", i)) end
end

-- A state table from reset(), with fields replaced.
function H.state_with(env, fields)
  local s = env:state()
  for k, v in pairs(fields) do s[k] = v end
  return s
end

-- Plain data only: numbers, booleans, strings and tables of them, no
-- metatables, no functions or userdata.
function H.is_plain(v, depth)
  depth = depth or 0
  local t = type(v)
  if t == "number" or t == "boolean" or t == "string" then return true end
  if t ~= "table" or getmetatable(v) ~= nil or depth > 8 then return false end
  for k, x in pairs(v) do
    if not (type(k) == "string" or math.type(k) == "integer") or not H.is_plain(x, depth + 1) then return false end
  end
  return true
end

return H
