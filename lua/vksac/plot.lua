-- Learning curves from a vksac.train CSV log, drawn by gnuplot (Debian
-- package gnuplot-nox) when it is installed.
local plot = {}

local function quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

local function has_gnuplot()
  return os.execute("command -v gnuplot >/dev/null 2>&1") == true
end

-- Draws episode returns (points) and evaluation returns (line with ± one
-- standard deviation) against environment steps into a PNG. Returns true,
-- or nil and a message saying what is missing.
function plot.curve(csv, png, title)
  if not has_gnuplot() then
    return nil, "gnuplot is not installed: no learning curve drawn (apt-get install gnuplot-nox, or plot " .. csv .. " yourself)"
  end
  local script = table.concat({
    "set terminal pngcairo size 900,540 noenhanced",
    "set output " .. string.format("%q", png),
    "set datafile separator ','",
    "set key bottom right",
    "set xlabel 'environment steps'",
    "set ylabel 'return'",
    "set title " .. string.format("%q", title or csv:match("[^/]*$")),
    "plot " .. string.format("%q", csv) .. " using 2:(strcol(1) eq 'episode' ? $4 : NaN) with points pt 7 ps 0.6 lc rgb '#9fb7d9' title 'episode', \\",
    "  '' using 2:(strcol(1) eq 'eval' ? $4 : NaN):(strcol(1) eq 'eval' ? $6 : NaN) with yerrorlines lw 2 lc rgb '#c0392b' title 'evaluation (mean ± std)'",
  }, "\n")
  local tmp = os.tmpname()
  local f = assert(io.open(tmp, "w"))
  f:write(script, "\n")
  f:close()
  local ok = os.execute("gnuplot " .. quote(tmp) .. " 2>" .. quote(tmp .. ".err"))
  local ef = io.open(tmp .. ".err")
  local err = ef and ef:read("a") or ""
  if ef then ef:close() end
  os.remove(tmp)
  os.remove(tmp .. ".err")
  if ok ~= true then return nil, "gnuplot failed: " .. err end
  return true
end

return plot
