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

/* ---- tensors (tensor.c; vl_astensor in tensor_convert.c, vl_shaped in
 * tensor_new.c) ----------------------------------------------------------
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
 * (e.g. "field 'states'") as bad argument #arg to fn (NULL: the running
 * function's name as Lua knows it). */
vl_tensor *vl_astensor(lua_State *L, int idx, vl_dtype dtype, const char *fn, int arg, const char *what);
/* Element i as a double, whatever the dtype. */
double vl_get(const vl_tensor *t, size_t i);
/* zeros/ones/rand/randn(d1, …, dn | {shape} [, dtype]): a new zeroed
 * tensor of the shape in the arguments (float32 only when float_only). */
vl_tensor *vl_shaped(lua_State *L, const char *fn, bool float_only);
/* __tostring (tensor_print.c). */
int vl_tensor_tostring(lua_State *L);
/* rand, randn, manual_seed (random.c). */
void vl_open_random(lua_State *L);
/* Registers tensor functions (tensor, zeros, ones, full, randn, ...) into
 * the table on top of the stack and creates the metatable. */
void vl_open_tensor(lua_State *L);
/* Pushes element i (row-major) of t: a number (an integer for int32) or a
 * boolean. */
void vl_pushelement(lua_State *L, const vl_tensor *t, size_t i);
/* Pushes a shape as written in messages, "{3, 5}" ("{}" for a scalar), and
 * returns it. */
const char *vl_pushshape(lua_State *L, int rank, const int64_t *shape);
/* The 0-based dimension for the value at idx: a 1-based dimension of a
 * tensor of `rank` dimensions, negative counting from the end; else raises
 * "bad argument #arg to 'fn' (...)". */
int vl_checkdim(lua_State *L, int idx, int rank, const char *fn, int arg);

/* ---- what the tensor files share (tensor*.c) ---------------------------- */

/* Counts and indices always fit an int32 (arange, max's indices). */
#define VL_MAX_NUMEL INT32_MAX

/* "bad argument #arg to 'fn' (...)" under our own function names:
 * luaL_argerror finds none under pcall, and counts self differently
 * depending on how a method was called. */
#define VL_ARGERR(L, fn, arg, ...) vl_arg_error(&(vl_args){(L), 0, (arg), (fn)}, NULL, __VA_ARGS__)

/* Bytes per element. */
size_t vl_esize(vl_dtype dtype);

/* v as a float; doubles beyond FLT_MAX saturate to ±inf rather than
 * relying on the FPU (C leaves that conversion undefined). */
float vl_to_f32(double v);

/* For type errors: the type, or the __name of a userdata. */
const char *vl_type_name(lua_State *L, int idx);

/* For value errors: numbers and strings as written, other values by type. */
const char *vl_describe(lua_State *L, int idx);

/* NULL when the shape is valid (and *numel set), else why not, pushed. */
const char *vl_shape_problem(lua_State *L, int rank, const int64_t *shape, size_t *numel);

/* Pushes a new zeroed tensor of t's shape and the given dtype. */
vl_tensor *vl_pushlike(lua_State *L, vl_dtype dtype, const vl_tensor *t);

/* Sets every element to *value (one element of t's dtype). */
void vl_fill(vl_tensor *t, const void *value);

/* A shape given as integers from stack index idx on, or as one table at
 * idx; returns the index after it. With `infer`, sizes may be -1. Errors
 * name the argument at fault, counted as stack index - shift (1 for
 * methods) (tensor_new.c). */
int vl_shape_args(lua_State *L, const char *fn, int idx, int shift, int *rank, int64_t *shape, bool infer);

/* tensor, zeros, ones, full, arange, cat, stack into the table on top of
 * the stack (tensor_new.c). */
void vl_open_tensor_new(lua_State *L);

/* Conversions (tensor_convert.c). Errors point at "bad argument #arg to
 * 'fn' (what: ...)", or, from a metamethod (fn NULL), give the message
 * alone. */
typedef struct vl_conv {
    lua_State *L;
    const char *fn;
    int arg;
    const char *what;
} vl_conv;

/* Stores the number or boolean at idx as one element of dtype; path[0..n)
 * names it in errors ("element [2][1]"), n == 0 as "value". Exact: an
 * int32 takes integers only; booleans are 1 and 0; bool is "nonzero". */
void vl_store_value(const vl_conv *c, int idx, vl_dtype dtype, void *dst, const int64_t *path, int n);

/* Pushes a tensor from the nested table at idx. With `infer`, a table of
 * booleans only gives bool, anything else dtype. */
vl_tensor *vl_from_table(const vl_conv *c, int idx, vl_dtype dtype, bool infer);

/* Pushes a 0-dimensional tensor holding the number or boolean at idx. */
vl_tensor *vl_from_scalar(const vl_conv *c, int idx, vl_dtype dtype);

/* Copies src's elements into dst (same numel) as dst's dtype. float32 to
 * int32 truncates toward zero, or with `exact` refuses fractions; NaN,
 * infinities and out-of-range values raise, naming the element. */
void vl_cast(const vl_conv *c, const vl_tensor *src, vl_tensor *dst, bool exact);

/* vl_astensor with an explicit error context. */
vl_tensor *vl_as_tensor(const vl_conv *c, int idx, vl_dtype dtype);

/* tensor_ops.c: arithmetic, comparisons, elementwise math, reductions.
 * Adds methods to the table on top of the stack and metamethods to the
 * Tensor metatable just below it. */
void vl_open_tensor_ops(lua_State *L);

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
void vl_open_args(lua_State *L);   /* vksac.nearest */

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

/* ---- agents (agent.c) ---------------------------------------------------
 * A vksac_agent shared by the Lua objects that use it (a SAC, and the Actor
 * and Critics it was built from), freed when the last one lets go. */
typedef struct vl_agent {
    vksac_agent *h;
    vl_ctx *ctx;
    int refs;
} vl_agent;

/* Creates an agent from cfg; raises "fn: message" on failure. */
vl_agent *vl_agent_create(lua_State *L, const vksac_agent_config *cfg, const char *fn);
/* Takes ownership of h (destroyed if this raises). */
vl_agent *vl_agent_wrap(lua_State *L, vl_ctx *c, vksac_agent *h, const char *fn);
void vl_agent_retain(vl_agent *a);
void vl_agent_release(vl_agent *a);
/* Resolves cfg (defaults filled in) or raises as a bad argument #arg of
 * fn, renaming the C API's field prefixes by `renames` (pairs: "actor.",
 * "actor_", …, NULL) so the message names the key a Lua user wrote. */
void vl_resolve(lua_State *L, const vksac_agent_config *cfg, vksac_agent_config *out, const char *fn, int arg,
                const char *const *renames);
/* A table of statistics (vksac_stats) pushed on the stack. */
void vl_push_stats(lua_State *L, const vksac_stats *st);

/* ---- networks (nets.c) ---------------------------------------------------
 * An Actor or Critic alone owns a small private agent (made on first call)
 * that holds its weights; once a SAC is built from it, it is bound to that
 * SAC's agent and its calls see the weights being trained. */
#define VL_ACTOR "vksac.Actor"
#define VL_CRITIC "vksac.Critic"
#define VL_MULTI "vksac.MultipleCritics"

typedef struct vl_net {
    vksac_agent_config cfg;      /* shape, this network's options and seed */
    float low[VKSAC_MAX_CONT_ACTIONS], high[VKSAC_MAX_CONT_ACTIONS];
    vl_agent *agent;             /* private or bound; NULL until first use */
    uint32_t index;              /* a bound critic's index in its agent */
    bool bound, closed;
} vl_net;

/* The open Actor / Critic at idx or raises (bad type, or closed). */
vl_net *vl_check_actor(lua_State *L, int idx);
vl_net *vl_check_critic(lua_State *L, int idx);
vl_net *vl_test_net(lua_State *L, int idx, const char *cls);
/* Pushes a new Actor / Critic bound to agent (index for critics). */
void vl_push_bound(lua_State *L, const char *cls, const vksac_agent_config *cfg, vl_agent *agent, uint32_t index);
/* Binds an existing network object to a SAC's agent. */
void vl_bind(vl_net *n, vl_agent *agent, uint32_t index);
/* The next seed for an object built without one; vksac.manual_seed
 * restarts the sequence (random.c). */
uint64_t vl_next_seed(lua_State *L);
/* Reads the network keys shared by Actor, Critic and SAC's critic tables. */
void vl_read_net(const vl_args *a, vksac_net_config *net);
/* Reads dim_state, num_cont_actions, num_discrete_actions. */
void vl_read_shape(const vl_args *a, vksac_agent_config *cfg, bool required);
/* Actor{...} from the table at a->idx into n (raises on bad input). */
void vl_read_actor(const vl_args *a, vl_net *n);
/* Critic{...} from the table at a->idx into n (raises on bad input);
 * num_quantiles defaults to default_m. */
void vl_read_critic(const vl_args *a, vl_net *n, uint32_t default_m);
/* The first option in which two critics differ, or NULL when they can be
 * trained together (one agent holds critics of one shape). */
const char *vl_critic_mismatch(const vksac_agent_config *x, const vksac_agent_config *y);

/* MultipleCritics / MultipleQuantileCritics (multi.c): critics (uservalue
 * 1, a list of Critic objects) and how their values are combined. */
typedef struct vl_multi {
    bool quantiled, closed;
    int use_softmin;
    float softmin_temperature, frac_atom_keep;   /* 0 = default */
    uint32_t count;
} vl_multi;
vl_multi *vl_test_multi(lua_State *L, int idx);

/* Actions for the states at idx through agent (shared by actor(...) and
 * agent:act): pushes cont, discrete, cont_logprob, discrete_logprob
 * (nil for absent parts) and returns 4. */
int vl_act(lua_State *L, vl_agent *agent, const vksac_agent_config *cfg, int idx, bool sample, const char *fn);

/* calls.c: the (states, cont_actions) arguments 1 and 2 of a critic call
 * (stack slots 2 and 3), checked against cfg; the tensors stay on the
 * stack. width: floats per row of one critic's output. */
typedef struct vl_critic_in {
    const float *states, *actions;
    uint32_t n, width;
    bool single;
} vl_critic_in;
vl_critic_in vl_critic_inputs(lua_State *L, const vksac_agent_config *cfg, const char *fn);
/* critic(states, cont_actions) → q_cont, {q_head…} */
int vl_critic_call(lua_State *L);
/* Rows of the F32 tensor made from the value at idx, checked to have
 * `cols` columns (n×cols, or one row of cols when `single` may be set). */
vl_tensor *vl_rows(lua_State *L, int idx, vl_dtype dtype, uint32_t cols, const char *fn, int arg,
                   const char *what, const char *colname, uint32_t *n, bool *single);
/* Evaluates one network object's critic (n rows) into q (n×Q floats). */
void vl_eval_critic(lua_State *L, vl_net *c, const float *states, const float *cont, uint32_t n, float *q);
/* Pushes q_cont and the table of per-head values of `count` critics'
 * outputs q (count × n × Q); `stacked` adds the leading critic dimension. */
void vl_push_q(lua_State *L, const vksac_agent_config *cfg, const float *q, uint32_t count, uint32_t n,
               bool single, bool stacked);
/* A private agent for a network alone, made on first use. */
vl_agent *vl_net_agent(lua_State *L, vl_net *n, bool actor);

void vl_open_multi(lua_State *L);  /* MultipleCritics, MultipleQuantileCritics (multi.c) */
void vl_open_nets(lua_State *L);   /* Actor, Critic, MultipleCritics, MultipleQuantileCritics */
/* batch.c: the transitions table of agent{…} and agent:observe{…}:
 * states, cont_actions, discrete_actions, rewards, done | terminated,
 * truncated, next_states. Tensors made on the way stay on the stack. */
void vl_read_transitions(const vl_args *a, const vksac_agent_config *cfg, vksac_transitions *out);

void vl_open_sac(lua_State *L);    /* SAC, load */
void vl_open_system(lua_State *L); /* clock, isatty, catch_interrupt, interrupted */

/* Creates a metatable `name` with __name, __index = methods, the given
 * metamethods, and pops it. */
void vl_new_class(lua_State *L, const char *name, const luaL_Reg *methods, const luaL_Reg *meta);

/* The module entry point (module.c). Everything else is built with hidden
 * visibility; this is the one symbol vksac/core.so exports, the one the
 * stock interpreter's require looks up. */
#define VL_EXPORT __attribute__((visibility("default")))
VL_EXPORT int luaopen_vksac_core(lua_State *L);

#endif
