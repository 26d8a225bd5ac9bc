package.path = "./?.lua;" .. package.path; local T = require "testing"; local vksac = require "vksac"
-- vksac.Tensor: constructors, dtypes, conversions, indexing, arithmetic and
-- broadcasting, reductions, printing, the random generator, close/GC, and
-- the exact messages of bad calls.

local tensor = vksac.tensor

-- Errors raised in a metamethod (t[i], t + u, #t) carry the position of
-- the Lua line that triggered them; compare the rest exactly.
local function raises_here(msg, fn, ...)
  T.raises({pattern = "^[^\n]-:%d+: " .. (msg:gsub("%p", "%%%0")) .. "$"}, fn, ...)
end

local function same(a, b)
  if type(a) ~= "table" or type(b) ~= "table" then
    return a == b and math.type(a) == math.type(b)
  end
  if #a ~= #b then return false end
  for i = 1, #a do
    if not same(a[i], b[i]) then return false end
  end
  return true
end

local function eq_table(got, want, what)
  if not same(got, want) then
    error(string.format("%s: tables differ", what or "totable"), 2)
  end
end

T.case("tensor() from numbers, booleans, nested tables and tensors", function()
  local s = tensor(2.5)
  T.eq(s:dim(), 0); T.eq(s:numel(), 1); T.eq(s:dtype(), "float32"); T.eq(s:item(), 2.5)
  T.eq(tensor(true):dtype(), "bool"); T.eq(tensor(true):item(), true)
  local m = tensor{{1, 2, 3}, {4, 5, 6}}
  eq_table(m:shape(), {2, 3}); T.eq(m:dtype(), "float32"); T.eq(m:numel(), 6)
  eq_table(m:totable(), {{1.0, 2.0, 3.0}, {4.0, 5.0, 6.0}})
  local b = tensor{{true, false}, {false, true}}
  T.eq(b:dtype(), "bool"); eq_table(b:totable(), {{true, false}, {false, true}})
  T.eq(tensor{true, 2}:dtype(), "float32")                    -- mixed: numbers win
  eq_table(tensor{true, 2}:totable(), {1.0, 2.0})
  local i = tensor({{1, 2}, {3, 4}}, "int32")
  T.eq(i:dtype(), "int32"); eq_table(i:totable(), {{1, 2}, {3, 4}})
  eq_table(tensor({0, 2, -1}, "bool"):totable(), {false, true, true})
  eq_table(tensor({2.0, -7}, vksac.int32):totable(), {2, -7})
  local c = tensor(m)                                         -- a copy
  c[1] = {9, 9, 9}
  T.eq(m[1][1], 1.0); T.eq(c[1][1], 9.0)
  T.eq(tensor(i):dtype(), "int32"); T.eq(tensor(i, "float32"):dtype(), "float32")
  eq_table(tensor({}):shape(), {0})
  eq_table(tensor({{}, {}}):shape(), {2, 0})
  local r4 = tensor{{{{1, 2}}, {{3, 4}}}}
  eq_table(r4:shape(), {1, 2, 1, 2}); T.eq(r4:sum(), 10.0)
end)

T.case("zeros, ones, full, arange, dtype constants", function()
  T.eq(vksac.float32, "float32"); T.eq(vksac.int32, "int32"); T.eq(vksac.bool, "bool")
  local z = vksac.zeros(2, 3)
  eq_table(z:shape(), {2, 3}); T.eq(z:sum(), 0.0); T.eq(z:dtype(), "float32")
  eq_table(vksac.zeros({4, 1, 2}):shape(), {4, 1, 2})
  T.eq(vksac.zeros(3, "int32"):dtype(), "int32"); T.eq(vksac.zeros({3}, vksac.bool):dtype(), "bool")
  T.eq(vksac.zeros():dim(), 0); T.eq(vksac.zeros({}):numel(), 1)
  T.eq(vksac.zeros(0, 5):numel(), 0)
  T.eq(vksac.ones(2, 3):sum(), 6.0); T.eq(vksac.ones(3, "int32"):sum(), 3)
  eq_table(vksac.ones(2, "bool"):totable(), {true, true})
  local f = vksac.full({2, 2}, 7)
  T.eq(f:dtype(), "float32"); eq_table(f:totable(), {{7.0, 7.0}, {7.0, 7.0}})
  eq_table(vksac.full(3, 7, "int32"):totable(), {7, 7, 7})
  T.eq(vksac.full(2, true):dtype(), "bool"); eq_table(vksac.full(2, true):totable(), {true, true})
  eq_table(vksac.full({}, 1.5):shape(), {})
  local a = vksac.arange(5)
  T.eq(a:dtype(), "int32"); eq_table(a:totable(), {0, 1, 2, 3, 4})
  eq_table(vksac.arange(2, 5):totable(), {2, 3, 4})
  eq_table(vksac.arange(5, 0, -2):totable(), {5, 3, 1})
  eq_table(vksac.arange(0, 1, 0.25):totable(), {0.0, 0.25, 0.5, 0.75})
  T.eq(vksac.arange(0, 1, 0.25):dtype(), "float32")
  T.eq(vksac.arange(0):numel(), 0); T.eq(vksac.arange(3, 1):numel(), 0)
  T.ok(vksac.is_tensor(z)); T.ok(not vksac.is_tensor({})); T.ok(not vksac.is_tensor(nil))
end)

T.case("dtype conversions", function()
  local f = tensor{1.7, -1.7, 0, 2}
  T.eq(f:int():dtype(), "int32"); eq_table(f:int():totable(), {1, -1, 0, 2})   -- truncation
  eq_table(f:bool():totable(), {true, true, false, true})
  eq_table(vksac.zeros(3):bool():totable(), {false, false, false})
  local b = tensor{true, false}
  eq_table(b:float():totable(), {1.0, 0.0}); eq_table(b:int():totable(), {1, 0})
  eq_table(tensor({5, 0}, "int32"):bool():totable(), {true, false})
  eq_table(tensor({5, -3}, "int32"):float():totable(), {5.0, -3.0})
  T.ok(rawequal(f:float(), f), "float() of a float tensor is the tensor itself")
  T.raises("cannot convert to int32: element [2] must be finite and in int32 range, got inf",
           f.int, tensor{1, math.huge})
  T.raises("cannot convert to int32: element [2][1] must be finite and in int32 range, got 3000000000.0",
           f.int, tensor{{1}, {3e9}})
  -- exact conversions (tensor(x, dtype), copy, row assignment) refuse fractions
  T.raises("bad argument #1 to 'tensor' (element [2] must be an integer in int32 range, got 0.5)",
           tensor, tensor{1, 0.5}, "int32")
end)

T.case("totable and item round trips", function()
  local t = {{{1, 2}, {3, 4}}, {{5, 6}, {7, 8}}}
  eq_table(tensor(t):totable(), {{{1.0, 2.0}, {3.0, 4.0}}, {{5.0, 6.0}, {7.0, 8.0}}})
  eq_table(tensor(tensor(t):totable()):totable(), tensor(t):totable())
  local i = tensor({{-1, 2}, {3, 2147483647}}, "int32"):totable()
  eq_table(i, {{-1, 2}, {3, 2147483647}}); T.eq(math.type(i[1][1]), "integer")
  T.eq(tensor(3):totable(), 3.0)
  T.eq(tensor(true):totable(), true)
  eq_table(vksac.zeros(2, 0):totable(), {{}, {}})
  T.eq(tensor{{4}}:item(), 4.0)
  T.eq(tensor({4}, "int32"):item(), 4); T.eq(math.type(tensor({4}, "int32"):item()), "integer")
  T.raises("item() needs a tensor of one element, got 2 elements", tensor{1, 2}.item, tensor{1, 2})
end)

T.case("indexing: elements, rows, negative indices, errors", function()
  local v = tensor{10, 20, 30}
  T.eq(v[1], 10.0); T.eq(v[3], 30.0); T.eq(v[-1], 30.0); T.eq(v[-3], 10.0); T.eq(v[2.0], 20.0)
  raises_here("index 4 out of range for dimension of size 3", function() return v[4] end)
  raises_here("index 0 out of range for dimension of size 3", function() return v[0] end)
  raises_here("index -4 out of range for dimension of size 3", function() return v[-4] end)
  raises_here("tensor index must be an integer, got 1.5", function() return v[1.5] end)
  raises_here("attempt to index a 0-dimensional tensor", function() return tensor(1)[1] end)
  local m = tensor{{1, 2}, {3, 4}, {5, 6}}
  T.eq(m[2], tensor{3, 4}); T.eq(m[-1][-1], 6.0)
  local row = m[1]
  row[1] = 100                                                -- a copy, not a view
  T.eq(m[1][1], 1.0)
  T.eq(type(v.shape), "function"); T.eq(v.no_such_method, nil)
  T.eq(tensor{true, false}[2], false)
  T.eq(math.type(tensor({7}, "int32")[1]), "integer")
  T.eq(#m, 3); T.eq(#vksac.zeros(0, 2), 0)
  raises_here("attempt to get length of a 0-dimensional tensor", function() return #tensor(1) end)
  local rows = {}
  for i, r in pairs(m) do rows[i] = r:totable() end
  eq_table(rows, {{1.0, 2.0}, {3.0, 4.0}, {5.0, 6.0}})
  local n = 0
  for _, x in pairs(v) do n = n + x end
  T.eq(n, 60.0)
end)

T.case("assignment: elements and rows", function()
  local v = tensor{1, 2, 3}
  v[2] = 5; v[-1] = true
  eq_table(v:totable(), {1.0, 5.0, 1.0})
  local m = vksac.zeros(2, 3)
  m[1] = {1, 2, 3}
  m[2] = tensor({4, 5, 6}, "int32")                           -- converted to the row's dtype
  eq_table(m:totable(), {{1.0, 2.0, 3.0}, {4.0, 5.0, 6.0}})
  m[-1] = 0
  eq_table(m:totable(), {{1.0, 2.0, 3.0}, {0.0, 0.0, 0.0}})
  local i = tensor({1, 2}, "int32")
  i[1] = 7; T.eq(i[1], 7)
  raises_here("value must be an integer in int32 range, got 2.5", function() i[1] = 2.5 end)
  raises_here("value must be a number or boolean, got 'x'", function() v[1] = "x" end)
  raises_here("cannot assign a tensor of shape {2} to a row of shape {3}", function() m[1] = {1, 2} end)
  raises_here("cannot set field 'foo' of a Tensor", function() v.foo = 1 end)
  raises_here("index 3 out of range for dimension of size 2", function() m[3] = {1, 2, 3} end)
  local im = vksac.zeros(1, 2, "int32")
  raises_here("element [2] must be an integer in int32 range, got 0.5", function() im[1] = {1, 0.5} end)
end)

T.case("arithmetic: values, scalars on either side, dtypes", function()
  local a, b = tensor{1, 2, 3}, tensor{4, 5, 6}
  eq_table((a + b):totable(), {5.0, 7.0, 9.0})
  eq_table((b - a):totable(), {3.0, 3.0, 3.0})
  eq_table((a * b):totable(), {4.0, 10.0, 18.0})
  eq_table((b / a):totable(), {4.0, 2.5, 2.0})
  eq_table((a ^ 2):totable(), {1.0, 4.0, 9.0})
  eq_table((2 ^ a):totable(), {2.0, 4.0, 8.0})
  eq_table((10 - a):totable(), {9.0, 8.0, 7.0})
  eq_table((a - 10):totable(), {-9.0, -8.0, -7.0})
  eq_table((6 / a):totable(), {6.0, 3.0, 2.0})
  eq_table((2 * a):totable(), (a * 2):totable())
  eq_table((-a):totable(), {-1.0, -2.0, -3.0})
  eq_table((a + tensor(1)):totable(), {2.0, 3.0, 4.0})
  T.eq((tensor(2) * tensor(3)):item(), 6.0)
  local i = tensor({1, 2, 3}, "int32")
  T.eq((i + i):dtype(), "int32"); T.eq((i - 1):dtype(), "int32"); T.eq((3 * i):dtype(), "int32")
  eq_table((i * i):totable(), {1, 4, 9})
  T.eq((i / i):dtype(), "float32"); eq_table((i / 2):totable(), {0.5, 1.0, 1.5})
  T.eq((i + 1.5):dtype(), "float32"); T.eq((i + 2.0):dtype(), "float32")   -- a Lua float is float32
  T.eq((i ^ 2):dtype(), "float32"); T.eq((-i):dtype(), "int32")
  T.eq((i + a):dtype(), "float32")
  eq_table((tensor({2147483647}, "int32") + 1):totable(), {-2147483648})   -- wraps like torch
  local bl = tensor{true, false}
  T.eq((bl + bl):dtype(), "float32"); eq_table((bl + bl):totable(), {2.0, 0.0})
  T.eq((-bl):dtype(), "float32")
  raises_here("attempt to perform arithmetic on a string value", function() return a + "x" end)
  raises_here("attempt to perform arithmetic on a table value", function() return {} * a end)
end)

T.case("broadcasting", function()
  local a = vksac.arange(15):float():reshape(3, 5)           -- rows {0..4}, {5..9}, {10..14}
  local r = vksac.arange(5):float()
  local s = a + r                                             -- (3,5) + (5)
  eq_table(s:shape(), {3, 5}); T.eq(s[2][3], 9.0)
  T.eq(a + r:reshape(1, 5), s)                                -- (3,5) + (1,5)
  local c = tensor{{100}, {200}, {300}}                       -- (3,5) + (3,1)
  local s2 = a + c
  eq_table(s2:shape(), {3, 5}); T.eq(s2[3][5], 314.0); T.eq(s2[1][1], 100.0)
  local outer = c + r:reshape(1, 5)                           -- (3,1) + (1,5)
  eq_table(outer:shape(), {3, 5}); T.eq(outer[2][4], 203.0)
  local three = vksac.zeros(2, 1, 4) + vksac.ones(3, 1)       -- (2,1,4) + (3,1)
  eq_table(three:shape(), {2, 3, 4}); T.eq(three:sum(), 24.0)
  eq_table((r - a)[3]:totable(), {-10.0, -10.0, -10.0, -10.0, -10.0})
  eq_table((vksac.zeros(0, 3) + tensor{1, 2, 3}):shape(), {0, 3})
  raises_here("cannot broadcast shapes {3, 5} and {3} for '+'", function() return a + tensor{1, 2, 3} end)
  raises_here("cannot broadcast shapes {2, 2} and {3, 2} for '*'",
              function() return vksac.zeros(2, 2) * vksac.zeros(3, 2) end)
end)

T.case("comparisons give bool tensors", function()
  local t = tensor{{1, 2}, {3, 4}}
  local e = t:eq(2)
  T.eq(e:dtype(), "bool"); eq_table(e:totable(), {{false, true}, {false, false}})
  eq_table(t:gt(tensor{1, 3}):totable(), {{false, false}, {true, true}})
  eq_table(t:lt(3):totable(), {{true, true}, {false, false}})
  eq_table(t:le(3):totable(), {{true, true}, {true, false}})
  eq_table(t:ge(tensor{{2}, {4}}):totable(), {{false, true}, {false, true}})
  eq_table(t:ne(1):totable(), {{false, true}, {true, true}})
  T.eq(t:gt(2):sum(), 2)
  eq_table(tensor{true, false}:eq(true):totable(), {true, false})
  eq_table(tensor({16777217}, "int32"):eq(16777216):totable(), {false})   -- exact, not via float
  T.raises("bad argument #1 to 'lt' (number, boolean or vksac.Tensor expected, got string)", t.lt, t, "x")
end)

T.case("equality (==)", function()
  T.ok(tensor{1, 2} == tensor{1, 2})
  T.ok(tensor{1, 2} ~= tensor{1, 3})
  T.ok(tensor{1, 2} ~= tensor({1, 2}, "int32"), "dtype differs")
  T.ok(tensor{1, 2} ~= tensor{{1, 2}}, "shape differs")
  T.ok(tensor{0 / 0} ~= tensor{0 / 0}, "NaN equals nothing")
  T.ok(vksac.zeros(0) == vksac.zeros(0))
  T.ok(tensor{1} ~= 1)
end)

T.case("reductions", function()
  local m = tensor{{1, 5}, {3, 2}}
  T.eq(m:sum(), 11.0); T.eq(m:mean(), 2.75); T.eq(m:max(), 5.0); T.eq(m:min(), 1.0)
  T.eq(math.type(m:max()), "float")
  local i = tensor({1, 2, 3}, "int32")
  T.eq(i:sum(), 6); T.eq(math.type(i:sum()), "integer"); T.eq(i:max(), 3); T.eq(i:mean(), 2.0)
  T.eq(tensor{true, true, false}:sum(), 2)
  T.eq(tensor{true, false}:max(), true); T.eq(tensor{true, false}:min(), false)
  T.eq(m:sum(1), tensor{4, 7}); T.eq(m:sum(2), tensor{6, 5}); T.eq(m:sum(-1), tensor{6, 5})
  T.eq(m:mean(1), tensor{2, 3.5})
  local v, idx = m:max(1)
  T.eq(v, tensor{3, 5}); T.eq(idx, tensor({2, 1}, "int32"))
  v, idx = m:min(2)
  T.eq(v, tensor{1, 2}); T.eq(idx, tensor({1, 2}, "int32"))
  T.eq(i:sum(1):dtype(), "int32"); T.eq(i:sum(1):item(), 6)
  T.eq(tensor{true, true}:sum(1):dtype(), "int32")
  local big = vksac.ones(2, 3, 4)
  T.eq(big:sum(2), vksac.full({2, 4}, 3)); T.eq(big:mean(3), vksac.ones(2, 3))
  T.eq(vksac.zeros(0):sum(), 0.0)
  T.ok(vksac.zeros(0):mean() ~= vksac.zeros(0):mean(), "mean of nothing is NaN")
  local nan = tensor{1, 0 / 0, 3}:max()
  T.ok(nan ~= nan, "max propagates NaN")
  T.raises("max() of an empty tensor", m.max, vksac.zeros(0))
  T.raises("min() over an empty dimension", m.min, vksac.zeros(2, 0), 2)
  T.raises("sum() overflows int32", m.sum, tensor({2147483647, 1}, "int32"), 1)
  T.eq(tensor({2147483647, 1}, "int32"):sum(), 2147483648)   -- exact as a Lua integer
end)

T.case("elementwise math and clamp", function()
  local t = tensor{1, 4, 9}
  eq_table(t:sqrt():totable(), {1.0, 2.0, 3.0})
  local back = t:log():exp()
  for k = 1, 3 do T.near(back[k], t[k], 1e-6) end
  T.near(tensor{0.5}:tanh():item(), 0.46211715726001, 1e-6)
  eq_table(tensor{-2, 0, 3}:abs():totable(), {2.0, 0.0, 3.0})
  local i = tensor({-2, 5, 1}, "int32")
  T.eq(i:abs():dtype(), "int32"); eq_table(i:abs():totable(), {2, 5, 1})
  T.eq(i:exp():dtype(), "float32")
  eq_table(tensor{-3, 0.5, 2}:clamp(-1, 1):totable(), {-1.0, 0.5, 1.0})
  eq_table(tensor{-3, 0.5, 2}:clamp(0):totable(), {0.0, 0.5, 2.0})
  eq_table(tensor{-3, 0.5, 2}:clamp(nil, 0):totable(), {-3.0, 0.0, 0.0})
  T.eq(i:clamp(0, 2):dtype(), "int32"); eq_table(i:clamp(0, 2):totable(), {0, 2, 1})
  T.eq(i:clamp(0, 1.5):dtype(), "float32"); eq_table(i:clamp(0, 1.5):totable(), {0.0, 1.5, 1.0})
  T.eq(tensor{true}:clamp(0, 1):dtype(), "float32")
end)

T.case("reshape, view, fill, copy, clone", function()
  local t = vksac.arange(6):float()
  eq_table(t:reshape(2, 3):shape(), {2, 3})
  eq_table(t:reshape({3, -1}):shape(), {3, 2})
  eq_table(t:view(-1, 1, 2):shape(), {3, 1, 2})
  eq_table(t:reshape(2, 3):totable(), {{0.0, 1.0, 2.0}, {3.0, 4.0, 5.0}})
  local r = t:reshape(6)
  r[1] = 99
  T.eq(t[1], 0.0)                                            -- reshape copies
  eq_table(vksac.zeros(0, 3):reshape(3, 0):shape(), {3, 0})
  T.raises("bad argument #1 to 'reshape' (cannot reshape a tensor of 0 elements into {-1, 0})",
           t.reshape, vksac.zeros(0, 3), -1, 0)                 -- -1 could be anything
  local z = vksac.zeros(2, 2)
  T.ok(rawequal(z:fill(3), z)); T.eq(z:sum(), 12.0)
  T.ok(rawequal(z:copy({{1, 2}, {3, 4}}), z)); T.eq(z, tensor{{1, 2}, {3, 4}})
  z:copy(tensor({{5, 6}, {7, 8}}, "int32"))
  T.eq(z, tensor{{5, 6}, {7, 8}})
  z:copy(z)
  T.eq(z, tensor{{5, 6}, {7, 8}})
  local c = z:clone()
  c[1] = 0
  T.eq(z[1][1], 5.0)
  local b = vksac.zeros(3, "bool"):fill(true)
  eq_table(b:totable(), {true, true, true})
  eq_table(vksac.zeros(2, "int32"):fill(-4):totable(), {-4, -4})
  eq_table(z:size(), {2, 2}); T.eq(z:size(2), 2); T.eq(z:size(-2), 2)
end)

T.case("cat and stack", function()
  T.eq(vksac.cat{tensor{1, 2}, tensor{3}}, tensor{1, 2, 3})
  local m = tensor{{1, 2}, {3, 4}}
  T.eq(vksac.cat({m, m}, 1), tensor{{1, 2}, {3, 4}, {1, 2}, {3, 4}})
  T.eq(vksac.cat({m, tensor{{9}, {8}}}, 2), tensor{{1, 2, 9}, {3, 4, 8}})
  local i = vksac.cat{tensor({1}, "int32"), {2, 3}}
  T.eq(i, tensor({1, 2, 3}, "int32"))
  T.eq(vksac.stack{tensor{1, 2}, tensor{3, 4}}, tensor{{1, 2}, {3, 4}})
  T.eq(vksac.stack({tensor{1, 2}, tensor{3, 4}}, 2), tensor{{1, 3}, {2, 4}})
  T.eq(vksac.stack({tensor{1, 2}, tensor{3, 4}}, -1), tensor{{1, 3}, {2, 4}})
  eq_table(vksac.stack({tensor(1), tensor(2)}):totable(), {1.0, 2.0})
end)

T.case("tostring", function()
  T.eq(tostring(tensor{{1, 2}, {3, 4}}), "tensor({{1.0000, 2.0000},\n        {3.0000, 4.0000}})")
  T.eq(tostring(tensor{{-1.5, 2}, {3, 40}}), "tensor({{-1.5000,  2.0000},\n        { 3.0000, 40.0000}})")
  T.eq(tostring(tensor{true, false}), "tensor({ true, false}, dtype=bool)")
  T.eq(tostring(tensor({1, -20, 300}, "int32")), "tensor({  1, -20, 300}, dtype=int32)")
  T.eq(tostring(tensor(2.5)), "tensor(2.5000)")
  T.eq(tostring(tensor{1e9, 1}), "tensor({1.0000e+09, 1.0000e+00})")
  T.eq(tostring(tensor{0 / 0, math.huge, -math.huge}), "tensor({ nan,  inf, -inf})")
  T.eq(tostring(vksac.arange(1000)), "tensor({  0,   1,   2, ..., 997, 998, 999}, shape={1000}, dtype=int32)")
  T.eq(tostring(vksac.zeros(0, 3)), "tensor({}, shape={0, 3})")
  T.eq(tostring(vksac.zeros(0)), "tensor({})")
  T.eq(tostring(vksac.zeros(2, 1, 1)), "tensor({{{0.0000}},\n\n        {{0.0000}}})")
  local big = tostring(vksac.zeros(20, 30))
  T.ok(big:find("..., 0.0000", 1, true), "columns summarised")
  T.ok(big:find("\n        ...,\n", 1, true), "rows summarised")
  T.eq(big:sub(-17), ", shape={20, 30})", "shape shown")
  T.eq(select(2, big:gsub("\n", "")), 6, "3 + ... + 3 rows")
  local t = vksac.zeros(1)
  t:close()
  T.eq(tostring(t), "Tensor (closed)")
  T.ok(tostring(vksac.zeros(1)):find("^tensor%("))
end)

T.case("random numbers: seeded, uniform and normal", function()
  vksac.manual_seed(42)
  local a = vksac.randn(100)
  vksac.manual_seed(42)
  local b = vksac.randn(100)
  T.ok(a == b, "same seed, same numbers")
  vksac.manual_seed(43)
  T.ok(vksac.randn(100) ~= a, "another seed, other numbers")
  vksac.manual_seed(42)
  T.eq(vksac.randn(10, 10):reshape(100), a)
  vksac.manual_seed(123)
  local n = vksac.randn(100, 100)
  eq_table(n:shape(), {100, 100})
  local mean = n:mean()
  local std = math.sqrt(((n - mean) ^ 2):mean())
  T.ok(math.abs(mean) < 0.05, "mean " .. mean); T.ok(math.abs(std - 1) < 0.05, "std " .. std)
  local u = vksac.rand(10000)
  T.ok(u:min() >= 0 and u:max() < 1, "rand in [0, 1)")
  T.near(u:mean(), 0.5, 0.02)
  T.eq(vksac.randn(3):numel(), 3)                             -- odd counts
  T.eq(vksac.rand({2, 2}, "float32"):numel(), 4)
end)

T.case("close, <close> and use after close", function()
  local t = tensor{1, 2, 3}
  t:close()
  T.raises("attempt to use a closed Tensor", t.dim, t)
  T.raises("attempt to use a closed Tensor", t.totable, t)
  raises_here("attempt to use a closed Tensor", function() return t[1] end)
  raises_here("attempt to use a closed Tensor", function() return t + 1 end)
  raises_here("attempt to use a closed Tensor", function() return #t end)
  raises_here("attempt to use a closed Tensor", function() t[1] = 0 end)
  T.raises("attempt to use a closed Tensor", vksac.tensor, t)
  t:close()                                                   -- twice is fine
  T.ok(t ~= tensor{1, 2, 3})
  local kept
  do
    local x <close> = vksac.zeros(4)
    kept = x
    T.eq(x:numel(), 4)
  end
  T.raises("attempt to use a closed Tensor", kept.numel, kept)
  local ok = pcall(function()
    local y <close> = vksac.zeros(2)
    kept = y
    error("boom")
  end)
  T.ok(not ok); T.raises("attempt to use a closed Tensor", kept.sum, kept)
end)

T.case("bad calls raise exact messages", function()
  local m = tensor{{1, 2}, {3, 4}}
  local bad = {
    {"bad argument #1 to 'tensor' (ragged nested table: row 2 has 3 entries, expected 2)", tensor, {{1, 2}, {1, 2, 3}}},
    {"bad argument #1 to 'tensor' (ragged nested table: row 2 is a number, expected a table)", tensor, {{1, 2}, 3}},
    {"bad argument #1 to 'tensor' (ragged nested table: row [2][1] has 1 entry, expected 2)", tensor,
     {{{1, 2}}, {{1}}}},
    {"bad argument #1 to 'tensor' (element [2] must be a number or boolean, got 'x')", tensor, {1, "x"}},
    {"bad argument #1 to 'tensor' (element [1][2] must be a number or boolean, got table)", tensor, {{1, {}}}},
    {"bad argument #1 to 'tensor' (nested table is deeper than 4 levels)", tensor, {{{{{1}}}}}},
    {"bad argument #1 to 'tensor' (number, boolean, table or vksac.Tensor expected, got string)", tensor, "abc"},
    {"bad argument #2 to 'tensor' (dtype must be 'float32', 'int32' or 'bool', got 'float64')", tensor, {1}, "float64"},
    {"bad argument #1 to 'tensor' (element [1] must be an integer in int32 range, got 1.5)", tensor, {1.5}, "int32"},
    {"bad argument #1 to 'tensor' (value must be an integer in int32 range, got 3000000000)", tensor, 3000000000, "int32"},
    {"bad argument #2 to 'zeros' (dtype must be 'float32', 'int32' or 'bool', got 'float64')", vksac.zeros, 3, "float64"},
    {"bad argument #2 to 'zeros' (dtype must be 'float32', 'int32' or 'bool', got boolean)", vksac.zeros, 3, true},
    {"bad argument #1 to 'zeros' (size must be a non-negative integer, got -3)", vksac.zeros, -3},
    {"bad argument #2 to 'ones' (size must be a non-negative integer, got 2.5)", vksac.ones, 1, 2.5},
    {"bad argument #1 to 'zeros' (shape entry [2] must be a non-negative integer, got -1)", vksac.zeros, {2, -1}},
    {"bad argument #5 to 'zeros' (a tensor has at most 4 dimensions)", vksac.zeros, 1, 2, 3, 4, 5},
    {"bad argument #1 to 'zeros' (a tensor has at most 4 dimensions, got 5)", vksac.zeros, {1, 1, 1, 1, 1}},
    {"bad argument #1 to 'zeros' (shape {65536, 65536} has more than 2147483647 elements)", vksac.zeros, 65536, 65536},
    {"bad argument #2 to 'randn' (dtype must be 'float32', got 'int32')", vksac.randn, 3, "int32"},
    {"bad argument #1 to 'full' (shape must be a table or an integer, got no value)", vksac.full},
    {"bad argument #2 to 'full' (value must be a number or boolean, got string)", vksac.full, {2}, "x"},
    {"bad argument #2 to 'full' (value must be an integer in int32 range, got 2.5)", vksac.full, {2}, 2.5, "int32"},
    {"bad argument #3 to 'arange' (step must not be zero)", vksac.arange, 0, 5, 0},
    {"bad argument #1 to 'arange' (number expected, got no value)", vksac.arange},
    {"bad argument #1 to 'manual_seed' (seed must be an integer, got 1.5)", vksac.manual_seed, 1.5},
    {"bad argument #1 to 'cat' (non-empty list of tensors expected, got an empty table)", vksac.cat, {}},
    {"bad argument #1 to 'cat' (entry [2] has shape {2, 3}, expected {2, 2})", vksac.cat, {m, vksac.zeros(2, 3)}},
    {"bad argument #1 to 'stack' (entry [2] has shape {3}, expected {2})", vksac.stack, {tensor{1, 2}, tensor{1, 2, 3}}},
    {"bad argument #1 to 'stack' (entry [2] must be a tensor or a table of numbers, got string)", vksac.stack, {m, "x"}},
    {"bad argument #2 to 'cat' (dimension 3 out of range for 2 dimensions)", vksac.cat, {m, m}, 3},
    {"bad argument #1 to 'reshape' (cannot reshape a tensor of 4 elements into {3})", m.reshape, m, 3},
    {"bad argument #1 to 'reshape' (cannot reshape a tensor of 4 elements into {3, -1})", m.reshape, m, 3, -1},
    {"bad argument #1 to 'reshape' (only one size may be -1)", m.reshape, m, -1, -1},
    {"bad argument #2 to 'view' (size must be a non-negative integer, got -2)", m.view, m, 2, -2},
    {"bad argument #1 to 'size' (dimension 3 out of range for 2 dimensions)", m.size, m, 3},
    {"bad argument #1 to 'sum' (dimension 0 out of range for 2 dimensions)", m.sum, m, 0},
    {"bad argument #1 to 'max' (dimension must be an integer, got 'x')", m.max, m, "x"},
    {"bad argument #1 to 'clamp' (at least one of min and max is required)", m.clamp, m},
    {"bad argument #1 to 'clamp' (min must be a number or nil, got string)", m.clamp, m, "a"},
    {"bad argument #1 to 'copy' (source has shape {3}, expected {2, 2})", m.copy, m, vksac.zeros(3)},
    {"bad argument #1 to 'copy' (source must be a tensor or a table of numbers, got boolean)", m.copy, m, true},
    {"bad argument #1 to 'fill' (value must be a number or boolean, got 'x')", m.fill, m, "x"},
  }
  for _, b in ipairs(bad) do T.raises(b[1], table.unpack(b, 2)) end
  T.raises({pattern = "vksac.Tensor expected, got number"}, m.dim, 5)
  T.raises({pattern = "vksac.Tensor expected, got no value"}, m.numel)
end)

T.case("garbage collection stress", function()
  local keep = {}
  for i = 1, 1000 do
    local t = vksac.randn(64, 8)
    if i % 100 == 0 then keep[#keep + 1] = t end
    if i % 2 == 1 then t:close() end                       -- never a kept one
    if i % 250 == 0 then collectgarbage() end
  end
  collectgarbage(); collectgarbage()
  for _, t in ipairs(keep) do T.eq(t:numel(), 512) end
  -- The data is malloc'd, outside the Lua heap; each 4 MB tensor must still
  -- push the collector, or none of these would be collected by the end.
  local alive = setmetatable({}, {__mode = "v"})
  for i = 1, 200 do
    alive[i] = vksac.zeros(1024, 1024)
    alive[i][1] = 1
  end
  local n = 0
  for _ in pairs(alive) do n = n + 1 end
  T.ok(n < 50, n .. " of 200 unreferenced 4 MB tensors still alive")
end)

os.exit(T.run())
