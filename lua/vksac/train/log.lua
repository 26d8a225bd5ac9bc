-- The CSV log of a training run: one row per finished episode and one per
-- evaluation, flushed as written so that a crash loses nothing. A resumed
-- run cuts the file back to where its checkpoint was taken, so the rows
-- after it are not there twice.
local log = {}

log.columns = {"kind", "step", "episode", "return", "length", "return_std", "alpha",
               "critic_loss", "actor_loss", "entropy", "mean_q", "updates", "time"}

local function cell(v)
  if v == nil then return "" end
  if math.type(v) == "integer" then return string.format("%d", v) end
  if type(v) == "number" then return string.format("%.9g", v) end
  return tostring(v)
end

-- Opens `path` for a run; with `offset` (from a checkpoint) keeps its first
-- `offset` bytes and appends after them. Returns the log or nil, message.
function log.open(path, offset)
  local kept = ""
  if offset then
    local f = io.open(path, "rb")
    if f then
      kept = f:read(offset) or ""
      f:close()
    end
    if #kept ~= offset then
      return nil, string.format("log %s is shorter (%d bytes) than when the checkpoint was taken (%d bytes)",
                                path, #kept, offset)
    end
  end
  local f, err = io.open(path, "wb")
  if not f then return nil, err end
  if kept == "" then kept = table.concat(log.columns, ",") .. "\n" end
  f:write(kept)
  f:flush()
  local l = {path = path, file = f}

  function l.row(values)
    local cells = {}
    for i, c in ipairs(log.columns) do cells[i] = cell(values[c]) end
    f:write(table.concat(cells, ","), "\n")
    f:flush()
  end

  -- Bytes written so far, for the checkpoint.
  function l.offset() return f:seek("end") end

  function l.close() f:close() end

  return l
end

-- Reads a log back: a list of rows, each a table keyed by column name
-- (numbers where the cell is a number).
function log.read(path)
  local f, err = io.open(path, "r")
  if not f then return nil, err end
  local header
  local rows = {}
  for line in f:lines() do
    local cells = {}
    for c in (line .. ","):gmatch("([^,]*),") do cells[#cells + 1] = c end
    if not header then
      header = cells
    else
      local row = {}
      for i, name in ipairs(header) do
        local c = cells[i]
        row[name] = c ~= "" and (tonumber(c) or c) or nil
      end
      rows[#rows + 1] = row
    end
  end
  f:close()
  return rows
end

return log
