-- What vksac.train shows while it runs: a bar redrawn in place on a
-- terminal, one plain line per interval otherwise (logs, CI), or nothing.
local core = require "vksac.core"

local progress = {}

local function clock_text(s)
  if s ~= s or s == math.huge or s < 0 then return "--:--" end
  s = math.floor(s + 0.5)
  if s >= 3600 then return string.format("%d:%02d:%02d", s // 3600, s // 60 % 60, s % 60) end
  return string.format("%02d:%02d", s // 60, s % 60)
end

local function num(x, fmt)
  if x == nil then return "-" end
  return string.format(fmt or "%.4g", x)
end

-- The figures both forms show, from the loop's `s` (see train/init.lua).
local function figures(s)
  local st = s.stats or {}
  return string.format("ep %s  eval %s  α %s  Lq %s  Lπ %s",
    num(s.last_return, "%.1f"), num(s.last_eval, "%.1f"), num(st.alpha, "%.3g"),
    num(st.critic_loss, "%.3g"), num(st.actor_loss, "%.3g"))
end

local function bar_line(s, now)
  local frac = math.min(1, s.step / s.total)
  local width = 24
  local filled = math.floor(frac * width + 0.5)
  local elapsed = now - s.start
  local rate = s.rate or 0
  local eta = rate > 0 and (s.total - s.step) / rate or math.huge
  return string.format("%3d%% [%s%s] %d/%d [%s<%s, %.0f steps/s] %s",
    math.floor(frac * 100), string.rep("#", filled), string.rep(".", width - filled),
    s.step, s.total, clock_text(elapsed), clock_text(eta), rate, figures(s))
end

local function plain_line(s, now)
  return string.format("step %d/%d  %.0f steps/s  %s  episodes %d  time %.1fs",
    s.step, s.total, s.rate or 0, figures(s), s.episodes, now - s.start)
end

-- mode: "bar", "lines", "none" or "auto" (bar on a terminal, else lines).
-- every: steps between plain lines.
function progress.new(mode, out, every)
  if mode == "auto" then mode = core.isatty(out) and "bar" or "lines" end
  local p = {mode = mode, out = out, every = every, next_line = every, drawn = 0, last_draw = -1}

  -- Called after every step: redraws at most 10 times a second.
  function p.update(s)
    if mode == "none" then return end
    local now = core.clock()
    if mode == "bar" then
      if now - p.last_draw < 0.1 then return end
      p.last_draw = now
      local line = bar_line(s, now)
      local pad = math.max(0, p.drawn - utf8.len(line))
      out:write("\r", line, string.rep(" ", pad))
      out:flush()
      p.drawn = utf8.len(line)
    elseif s.step >= p.next_line then
      p.next_line = (s.step // every + 1) * every
      p.last_step = s.step
      out:write(plain_line(s, now), "\n")
      out:flush()
    end
  end

  -- A message between updates (an evaluation, a checkpoint): on a
  -- terminal it goes above the bar.
  function p.message(text)
    if mode == "none" then return end
    if mode == "bar" and p.drawn > 0 then
      out:write("\r", string.rep(" ", p.drawn), "\r")
      p.drawn, p.last_draw = 0, -1
    end
    out:write(text, "\n")
    out:flush()
  end

  -- Leaves the last bar on screen.
  function p.finish(s)
    if mode == "none" then return end
    if mode == "bar" then
      p.last_draw = -1
      p.update(s)
      out:write("\n")
    elseif p.last_step ~= s.step then
      out:write(plain_line(s, core.clock()), "\n")
    end
    out:flush()
  end

  return p
end

return progress
