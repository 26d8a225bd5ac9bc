-- ctest's wrapper for samples/: vksac run_sample.lua PATTERN SAMPLE.lua [args...]
-- runs the sample, then fails unless its printed output matched the Lua
-- pattern, or when the validation layer reported anything meanwhile.
local pattern, path = arg[1], arg[2]
assert(pattern and path, "usage: vksac run_sample.lua PATTERN SAMPLE.lua [args...]")
local out, print0 = {}, print
print = function(...)   -- luacheck: ignore
  local parts = table.pack(...)
  for i = 1, parts.n do parts[i] = tostring(parts[i]) end
  out[#out + 1] = table.concat(parts, "\t")
  print0(...)
end
local chunk = assert(loadfile(path))
arg = table.move(arg, 3, #arg, 1, {[0] = path})   -- the sample sees its own arguments
chunk(table.unpack(arg))
print = print0
collectgarbage()
local text = table.concat(out, "\n")
if not text:find(pattern) then
  io.stderr:write(string.format("%s: output does not match %q\n", path, pattern))
  os.exit(1)
end
local msgs = require("vksac").validation_messages()
if msgs > 0 then
  io.stderr:write(string.format("%s: the validation layer reported %d message(s)\n", path, msgs))
  os.exit(1)
end
