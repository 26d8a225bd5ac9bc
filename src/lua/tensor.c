/* STUB until the tensor module lands. */
#include "vl.h"
const char *vl_dtype_name(vl_dtype d) { return d == VL_F32 ? "float32" : d == VL_I32 ? "int32" : "bool"; }
vl_tensor *vl_totensor(lua_State *L, int idx) { return luaL_testudata(L, idx, VL_TENSOR); }
vl_tensor *vl_checktensor(lua_State *L, int idx) { return luaL_checkudata(L, idx, VL_TENSOR); }
vl_tensor *vl_pushtensor(lua_State *L, vl_dtype dtype, int rank, const int64_t *shape) { (void)dtype; (void)rank; (void)shape; luaL_error(L, "stub"); return NULL; }
vl_tensor *vl_astensor(lua_State *L, int idx, vl_dtype dtype, int arg, const char *what) { (void)dtype; (void)arg; (void)what; return vl_checktensor(L, idx); }
void vl_open_tensor(lua_State *L) { (void)L; }
