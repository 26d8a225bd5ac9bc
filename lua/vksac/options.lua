-- Keyword-table checks for the functions written in Lua, with the messages
-- the C constructors give: "bad argument #1 to 'train' (field
-- 'total_steps' must be a positive integer, got -3)", and unknown keys
-- answered with the nearest valid one.
local core = require "vksac.core"

local options = {}

-- What a value is, for messages: "-3", "nan", "'abc'", "a table", "nil".
function options.describe(v)
  local kind = type(v)
  if v ~= v then return "nan" end   -- not "-nan": the sign of a NaN means nothing
  if kind == "number" or kind == "boolean" or kind == "nil" then return tostring(v) end
  if kind == "string" then return "'" .. v .. "'" end
  local mt = getmetatable(v)
  local name = type(mt) == "table" and rawget(mt, "__name")
  return "a " .. (type(name) == "string" and name or kind)
end

-- A checker for calls to `fn` whose options table is argument `arg`.
-- Errors point at the caller of the function that made the checker
-- (`level` frames above the check).
function options.new(fn, arg, level)
  local c = {fn = fn, arg = arg or 1, level = level or 3}

  function c.fail(field, fmt, ...)
    local msg = string.format(fmt, ...)
    if field then msg = string.format("field '%s' %s", field, msg) end
    error(string.format("bad argument #%d to '%s' (%s)", c.arg, c.fn, msg), c.level + 1)
  end

  -- Every key of t must be in `known` (a list).
  function c.keys(t, known)
    local set = {}
    for _, k in ipairs(known) do set[k] = true end
    for k in pairs(t) do
      if type(k) ~= "string" then c.fail(nil, "keys must be option names, got %s", options.describe(k)) end
      if not set[k] then
        local near = core.nearest(k, known)
        if near then c.fail(nil, "unknown option '%s'; did you mean '%s'?", k, near) end
        c.fail(nil, "unknown option '%s'", k)
      end
    end
  end

  function c.integer(t, field, default, min)
    local v = t[field]
    if v == nil then return default end
    min = min or 1
    if math.type(v) ~= "integer" and not (type(v) == "number" and v == math.floor(v) and v == v) or v < min then
      c.fail(field, "must be a %s integer, got %s", min >= 1 and "positive" or "non-negative", options.describe(v))
    end
    return math.tointeger(v)
  end

  function c.number(t, field, default)
    local v = t[field]
    if v == nil then return default end
    if type(v) ~= "number" or v ~= v or v == math.huge or v == -math.huge then
      c.fail(field, "must be a finite number, got %s", options.describe(v))
    end
    return v
  end

  function c.boolean(t, field, default)
    local v = t[field]
    if v == nil then return default end
    if type(v) ~= "boolean" then c.fail(field, "must be a boolean, got %s", options.describe(v)) end
    return v
  end

  function c.string(t, field, default)
    local v = t[field]
    if v == nil then return default end
    if type(v) ~= "string" or v == "" then c.fail(field, "must be a non-empty string, got %s", options.describe(v)) end
    return v
  end

  -- One of the listed strings.
  function c.choice(t, field, default, choices)
    local v = t[field]
    if v == nil then return default end
    for _, x in ipairs(choices) do if v == x then return v end end
    local quoted = {}
    for i, x in ipairs(choices) do quoted[i] = "'" .. x .. "'" end
    local list = table.concat(quoted, ", ", 1, #quoted - 1) .. " or " .. quoted[#quoted]
    c.fail(field, "must be %s, got %s", list, options.describe(v))
  end

  function c.typed(t, field, kind)
    local v = t[field]
    if v ~= nil and type(v) ~= kind then c.fail(field, "must be a %s, got %s", kind, options.describe(v)) end
    return v
  end

  return c
end

return options
