-- JSON for the training loop's own state inside checkpoints.
--
-- encode(value) writes nil-free plain data: tables that are sequences
-- become arrays, other tables objects (string keys only). Floats keep a
-- '.' or an exponent so that decode gives back a float, and print with 17
-- significant digits so that they come back bit-identical; integers come
-- back as integers. decode(text) parses strictly: checkpoints are input
-- from outside, so anything but JSON is an error, never code that runs.
local json = {}

local escapes = {['"'] = '\\"', ['\\'] = '\\\\', ['\b'] = '\\b', ['\f'] = '\\f',
                 ['\n'] = '\\n', ['\r'] = '\\r', ['\t'] = '\\t'}

local function encode_string(s)
  return '"' .. s:gsub('[%c"\\]', function(c)
    return escapes[c] or string.format("\\u%04x", c:byte())
  end) .. '"'
end

local function is_array(t)
  local n = #t
  local count = 0
  for _ in pairs(t) do count = count + 1 end
  return count == n
end

local function encode(v, out, depth)
  if depth > 64 then error("json: nesting deeper than 64 levels", 0) end
  local kind = type(v)
  if kind == "string" then
    out[#out + 1] = encode_string(v)
  elseif kind == "boolean" then
    out[#out + 1] = tostring(v)
  elseif math.type(v) == "integer" then
    out[#out + 1] = string.format("%d", v)
  elseif kind == "number" then
    if v ~= v or v == math.huge or v == -math.huge then
      error("json: cannot encode " .. tostring(v), 0)
    end
    local s = string.format("%.17g", v)
    if not s:find("[.e]") then s = s .. ".0" end
    out[#out + 1] = s
  elseif kind == "table" then
    if is_array(v) then
      out[#out + 1] = "["
      for i = 1, #v do
        if i > 1 then out[#out + 1] = "," end
        encode(v[i], out, depth + 1)
      end
      out[#out + 1] = "]"
    else
      local keys = {}
      for k in pairs(v) do
        if type(k) ~= "string" then error("json: object keys must be strings, got " .. type(k), 0) end
        keys[#keys + 1] = k
      end
      table.sort(keys)   -- the same state always gives the same text
      out[#out + 1] = "{"
      for i, k in ipairs(keys) do
        if i > 1 then out[#out + 1] = "," end
        out[#out + 1] = encode_string(k)
        out[#out + 1] = ":"
        encode(v[k], out, depth + 1)
      end
      out[#out + 1] = "}"
    end
  else
    error("json: cannot encode a " .. kind, 0)
  end
end

function json.encode(v)
  local out = {}
  encode(v, out, 0)
  return table.concat(out)
end

-- The decoder: a position in `text`, raising "json: ... at byte N".
local function fail(text, pos, what)
  error(string.format("json: %s at byte %d", what, pos), 0)
end

local function skip(text, pos)
  return text:find("[^ \t\r\n]", pos) or #text + 1
end

local decode_value

local function decode_string(text, pos)
  local parts = {}
  local i = pos + 1
  while true do
    local j = text:find('["\\%c]', i)
    if not j then fail(text, pos, "unterminated string") end
    parts[#parts + 1] = text:sub(i, j - 1)
    local c = text:sub(j, j)
    if c == '"' then return table.concat(parts), j + 1 end
    if c ~= "\\" then fail(text, j, "control character in a string") end
    local e = text:sub(j + 1, j + 1)
    local simple = ({['"'] = '"', ['\\'] = '\\', ['/'] = '/', b = '\b', f = '\f', n = '\n', r = '\r', t = '\t'})[e]
    if simple then
      parts[#parts + 1] = simple
      i = j + 2
    elseif e == "u" then
      local hex = text:match("^%x%x%x%x", j + 2)
      if not hex then fail(text, j, "bad \\u escape") end
      local code = tonumber(hex, 16)
      if code >= 0xD800 and code <= 0xDFFF then fail(text, j, "surrogate \\u escape") end
      parts[#parts + 1] = utf8.char(code)
      i = j + 6
    else
      fail(text, j, "bad escape")
    end
  end
end

local function decode_number(text, pos)
  local s = text:match("^-?%d+%.?%d*[eE]?[-+]?%d*", pos)
  if not s or not s:match("^-?%d") or s:match("^-?0%d") or s:match("%.$") or s:match("[eE][-+]?$") then
    fail(text, pos, "bad number")
  end
  local v = s:find("[.eE]") and tonumber(s) or math.tointeger(tonumber(s))
  if v == nil then fail(text, pos, "integer out of range") end
  return v, pos + #s
end

local function decode_list(text, pos, depth, close, item)
  pos = skip(text, pos + 1)
  if text:sub(pos, pos) == close then return pos + 1 end
  while true do
    pos = skip(text, item(pos, depth + 1))
    local c = text:sub(pos, pos)
    if c == close then return pos + 1 end
    if c ~= "," then fail(text, pos, "expected ',' or '" .. close .. "'") end
    pos = skip(text, pos + 1)
  end
end

function decode_value(text, pos, depth)
  if depth > 64 then fail(text, pos, "nesting deeper than 64 levels") end
  pos = skip(text, pos)
  local c = text:sub(pos, pos)
  if c == "{" then
    local obj = {}
    local after = decode_list(text, pos, depth, "}", function(p, d)
      if text:sub(p, p) ~= '"' then fail(text, p, "expected a string key") end
      local k, q = decode_string(text, p)
      q = skip(text, q)
      if text:sub(q, q) ~= ":" then fail(text, q, "expected ':'") end
      obj[k], q = decode_value(text, q + 1, d)
      return q
    end)
    return obj, after
  elseif c == "[" then
    local arr = {}
    local after = decode_list(text, pos, depth, "]", function(p, d)
      arr[#arr + 1], p = decode_value(text, p, d)
      return p
    end)
    return arr, after
  elseif c == '"' then
    return decode_string(text, pos)
  elseif text:sub(pos, pos + 3) == "true" then
    return true, pos + 4
  elseif text:sub(pos, pos + 4) == "false" then
    return false, pos + 5
  elseif c:match("[-%d]") then
    return decode_number(text, pos)
  end
  fail(text, pos, c == "" and "unexpected end" or "unexpected character")
end

function json.decode(text)
  if type(text) ~= "string" then error("json: expected a string, got " .. type(text), 0) end
  local v, pos = decode_value(text, 1, 0)
  pos = skip(text, pos)
  if pos <= #text then fail(text, pos, "trailing characters") end
  return v
end

return json
