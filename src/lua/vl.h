/*
 * The Lua binding layer (vl_): what its files share. Everything here sits
 * on the public C API (include/vksac.h) and Lua's C API; nothing below the
 * public API is visible to it.
 */
#ifndef VKSAC_LUA_VL_H
#define VKSAC_LUA_VL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <lauxlib.h>
#include <lua.h>

#include "vksac.h"

/* ---- tensors (tensor.c) ------------------------------------------------
 * Host tensors: a contiguous row-major buffer of one dtype, rank 0..4.
 * Booleans are one byte each (0 or 1); integers are int32 (discrete
 * actions). Metatable name "vksac.Tensor". */
#define VL_TENSOR "vksac.Tensor"
#define VL_MAX_RANK 4

typedef enum vl_dtype { VL_F32 = 0, VL_I32, VL_BOOL } vl_dtype;

typedef struct vl_tensor {
    vl_dtype dtype;
    int rank;
    int64_t shape[VL_MAX_RANK];
    size_t numel;
    void *data;              /* numel elements of dtype, owned by the tensor */
} vl_tensor;

/* "float32", "int32", "bool". */
const char *vl_dtype_name(vl_dtype dtype);
/* The tensor at idx, or NULL when the value there is not a tensor. */
vl_tensor *vl_totensor(lua_State *L, int idx);
/* The tensor at idx, or raises a bad-argument error. */
vl_tensor *vl_checktensor(lua_State *L, int idx);
/* Pushes a new zero-filled tensor; raises on a bad shape or no memory. */
vl_tensor *vl_pushtensor(lua_State *L, vl_dtype dtype, int rank, const int64_t *shape);
/* Converts the value at idx into a tensor of `dtype`: a tensor of that
 * dtype is returned as is; a tensor of another dtype, a number or a
 * (nested) table of numbers/booleans is converted into a new tensor, which
 * replaces the value at idx. On failure raises an error naming `what`
 * (e.g. "field 'states'") as an argument error of argument `arg`. */
vl_tensor *vl_astensor(lua_State *L, int idx, vl_dtype dtype, int arg, const char *what);
/* Registers tensor functions (tensor, zeros, ones, full, randn, ...) into
 * the table on top of the stack and creates the metatable. */
void vl_open_tensor(lua_State *L);

/* ---- keyword tables (args.c) --------------------------------------------
 * A constructor's keyword table is checked against the list of its valid
 * keys; an unknown key is an error naming the nearest valid one. Errors
 * use luaL_argerror's form: bad argument #arg to 'fn' (field 'x' ...). */
typedef struct vl_args {
    lua_State *L;
    int idx;                 /* stack index of the table */
    int arg;                 /* argument number for messages */
    const char *fn;          /* function name for messages */
} vl_args;

int vl_arg_error(const vl_args *a, const char *field, const char *fmt, ...);
/* Raises when the table has a key outside `keys` (NULL-terminated). */
void vl_check_keys(const vl_args *a, const char *const *keys);
/* Field readers: leave nothing on the stack; return `def` when absent. */
uint32_t vl_field_count(const vl_args *a, const char *field, uint32_t def, bool positive);
double vl_field_number(const vl_args *a, const char *field, double def);
bool vl_field_bool(const vl_args *a, const char *field, bool def);
/* The string, valid while the table is alive; NULL when absent. */
const char *vl_field_string(const vl_args *a, const char *field, const char *const *choices);
/* A sequence of positive integers into out[0..cap); returns its length. */
uint32_t vl_field_counts(const vl_args *a, const char *field, uint32_t *out, uint32_t cap);
/* A number or a sequence of numbers into out[0..n) (a number is repeated). */
void vl_field_numbers(const vl_args *a, const char *field, float *out, uint32_t n, bool *present);
/* The Levenshtein-nearest of `keys` to `word`, or NULL when none is close. */
const char *vl_nearest(const char *word, const char *const *keys);

/* ---- the shared context (context.c) -------------------------------------
 * One vksac_context per Lua state, created on first use (vksac.init{} sets
 * its options first). Objects keep it alive through a reference count, so
 * finalisers may run in any order at lua_close. */
typedef struct vl_ctx vl_ctx;
/* The state's context, created if needed (raises on failure). */
vl_ctx *vl_context(lua_State *L);
vksac_context *vl_ctx_handle(vl_ctx *c);
void vl_ctx_retain(vl_ctx *c);
void vl_ctx_release(vl_ctx *c);
/* Raises a Lua error with the context's last message, prefixed by fn. */
int vl_fail(lua_State *L, vl_ctx *c, const char *fn);
void vl_open_context(lua_State *L);

/* ---- classes ------------------------------------------------------------ */
void vl_open_nets(lua_State *L);   /* Actor, Critic, MultipleCritics, MultipleQuantileCritics */
void vl_open_sac(lua_State *L);    /* SAC, load */

/* Creates a metatable `name` with __name, __index = methods, the given
 * metamethods, and pops it. */
void vl_new_class(lua_State *L, const char *name, const luaL_Reg *methods, const luaL_Reg *meta);

/* The module entry point (module.c). */
int luaopen_vksac_core(lua_State *L);

#endif
