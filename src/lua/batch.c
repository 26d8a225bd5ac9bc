/* The transitions table of agent{…} (one update on it) and
 * agent:observe{…} (into the replay buffer). Per-row scalars (rewards,
 * done) may be given once for the whole batch: a number, a boolean or a
 * one-element tensor is broadcast, as the seed's torch.randn(1) is. */
#include <stdio.h>
#include <string.h>

#include "vl.h"

static const char *const KEYS[] = {"states", "cont_actions", "discrete_actions", "rewards", "done",
                                   "terminated", "truncated", "next_states", NULL};

/* Field f as a tensor pushed on the stack (converted to dtype), or NULL
 * (nothing pushed) when absent. */
static vl_tensor *field(const vl_args *a, const char *f, vl_dtype dtype)
{
    lua_State *L = a->L;
    if (lua_getfield(L, a->idx, f) == LUA_TNIL) {
        lua_pop(L, 1);
        return NULL;
    }
    char what[48];
    snprintf(what, sizeof what, "field '%s'", f);
    lua_pushstring(L, what);
    vl_tensor *t = vl_astensor(L, -2, dtype, a->fn, a->arg, lua_tostring(L, -1));
    lua_pop(L, 1);
    return t;
}

static vl_tensor *required(const vl_args *a, const char *f, vl_dtype dtype)
{
    vl_tensor *t = field(a, f, dtype);
    if (!t)
        vl_arg_error(a, f, "is required");
    return t;
}

/* n rows of `cols` values: n×cols, or cols values for a single row. */
static void need_rows(const vl_args *a, const char *f, const vl_tensor *t, uint32_t n, uint32_t cols,
                      const char *colname)
{
    bool ok = (t->rank == 2 && t->shape[0] == (int64_t)n && t->shape[1] == (int64_t)cols) ||
              (n == 1 && t->rank == 1 && t->shape[0] == (int64_t)cols);
    if (!ok)
        vl_arg_error(a, f, "must be a %d×%d tensor (rows of states × %s), got %d elements in %d dimension(s)",
                     (int)n, (int)cols, colname, (int)t->numel, t->rank);
}

/* n values, broadcasting one; returns the data (kept alive on the stack). */
static void *per_row(const vl_args *a, const char *f, vl_tensor *t, uint32_t n, vl_dtype dtype)
{
    if (t->numel == n)
        return t->data;
    if (t->numel != 1)
        vl_arg_error(a, f, "must have one value per row (%d) or a single value, got %d", (int)n, (int)t->numel);
    int64_t shape[1] = {n};
    vl_tensor *b = vl_pushtensor(a->L, dtype, 1, shape);
    size_t size = dtype == VL_BOOL ? 1 : 4;
    for (uint32_t i = 0; i < n; i++)
        memcpy((char *)b->data + i * size, t->data, size);
    return b->data;
}

void vl_read_transitions(const vl_args *a, const vksac_agent_config *cfg, vksac_transitions *out)
{
    lua_State *L = a->L;
    if (!lua_istable(L, a->idx))
        vl_arg_error(a, NULL, "table of transitions expected, got %s", luaL_typename(L, a->idx));
    vl_check_keys(a, KEYS);
    luaL_checkstack(L, 16, "too many transitions fields");
    memset(out, 0, sizeof *out);
    vl_tensor *s = required(a, "states", VL_F32);
    uint32_t S = cfg->dim_state;
    if (!((s->rank == 2 && s->shape[1] == S) || (s->rank == 1 && s->shape[0] == S)) || s->numel == 0)
        vl_arg_error(a, "states", "must be an n×%d tensor (dim_state %d), got %d elements in %d dimension(s)",
                     (int)S, (int)S, (int)s->numel, s->rank);
    if (s->numel / S > 65536)
        vl_arg_error(a, "states", "may hold at most 65536 rows, got %d", (int)(s->numel / S));
    uint32_t n = (uint32_t)(s->numel / S);
    vl_tensor *s2 = required(a, "next_states", VL_F32);
    need_rows(a, "next_states", s2, n, S, "dim_state");
    out->n = n;
    out->states = s->data;
    out->next_states = s2->data;
    vl_tensor *ca = field(a, "cont_actions", VL_F32);
    if (cfg->num_cont_actions) {
        if (!ca)
            vl_arg_error(a, "cont_actions", "is required (the agent has %d continuous actions)",
                         (int)cfg->num_cont_actions);
        need_rows(a, "cont_actions", ca, n, cfg->num_cont_actions, "num_cont_actions");
        out->cont_actions = ca->data;
    } else if (ca)
        vl_arg_error(a, "cont_actions", "given but the agent has no continuous actions");
    vl_tensor *da = field(a, "discrete_actions", VL_I32);
    if (cfg->num_discrete_heads) {
        if (!da)
            vl_arg_error(a, "discrete_actions", "is required (the agent has %d discrete heads)",
                         (int)cfg->num_discrete_heads);
        need_rows(a, "discrete_actions", da, n, cfg->num_discrete_heads, "heads");
        out->discrete_actions = da->data;
    } else if (da)
        vl_arg_error(a, "discrete_actions", "given but the agent has no discrete heads");
    out->rewards = per_row(a, "rewards", required(a, "rewards", VL_F32), n, VL_F32);
    vl_tensor *done = field(a, "done", VL_BOOL), *term = field(a, "terminated", VL_BOOL);
    if (done && term)
        vl_arg_error(a, "done", "and 'terminated' mean the same; give one");
    if (!done && !term)
        vl_arg_error(a, "terminated", "is required (or 'done')");
    out->terminated = per_row(a, done ? "done" : "terminated", done ? done : term, n, VL_BOOL);
    vl_tensor *trunc = field(a, "truncated", VL_BOOL);
    if (trunc)
        out->truncated = per_row(a, "truncated", trunc, n, VL_BOOL);
}
