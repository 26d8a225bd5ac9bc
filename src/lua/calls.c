/* Running networks from Lua: states in, actions or critic values out, as
 * tensors. Inputs are converted once into a float tensor; outputs are
 * written by the C API straight into new tensors. */
#include <string.h>

#include "vl.h"

/* "{3, 4}" */
static const char *shape_str(lua_State *L, const vl_tensor *t)
{
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    luaL_addchar(&b, '{');
    for (int i = 0; i < t->rank; i++) {
        lua_pushfstring(L, "%s%d", i ? ", " : "", (int)t->shape[i]);
        luaL_addvalue(&b);
    }
    luaL_addchar(&b, '}');
    luaL_pushresult(&b);
    return lua_tostring(L, -1);
}

vl_tensor *vl_rows(lua_State *L, int idx, vl_dtype dtype, uint32_t cols, const char *fn, int arg,
                   const char *what, const char *colname, uint32_t *n, bool *single)
{
    idx = lua_absindex(L, idx);
    vl_tensor *t = vl_astensor(L, idx, dtype, fn, arg, what);
    vl_args a = {L, idx, arg, fn};
    bool one = single && t->rank == 1 && t->shape[0] == (int64_t)cols;
    if (!one && (t->rank != 2 || t->shape[1] != (int64_t)cols))
        vl_arg_error(&a, NULL, "%s must be an n×%d tensor (%s %d), got shape %s", what, (int)cols, colname,
                     (int)cols, shape_str(L, t));
    if (!one && (t->shape[0] < 1 || t->shape[0] > 65536))
        vl_arg_error(&a, NULL, "%s must have 1 to 65536 rows, got %d", what, (int)t->shape[0]);
    *n = one ? 1 : (uint32_t)t->shape[0];
    if (single)
        *single = one;
    return t;
}

/* A new float or int tensor of n rows (dropped when single) × the given
 * trailing dims. */
static vl_tensor *push_out(lua_State *L, vl_dtype dt, bool single, uint32_t n, int ndims, const int64_t *dims)
{
    int64_t shape[VL_MAX_RANK];
    int rank = 0;
    if (!single)
        shape[rank++] = n;
    for (int i = 0; i < ndims; i++)
        shape[rank++] = dims[i];
    return vl_pushtensor(L, dt, rank, shape);
}

int vl_act(lua_State *L, vl_agent *agent, const vksac_agent_config *cfg, int idx, bool sample, const char *fn)
{
    uint32_t n, C = cfg->num_cont_actions, D = cfg->num_discrete_heads;
    bool single = false;
    vl_tensor *s = vl_rows(L, idx, VL_F32, cfg->dim_state, fn, 1, "states", "dim_state", &n, &single);
    int64_t c = C, d = D;
    vl_tensor *cont = NULL, *disc = NULL, *lpd = NULL;
    if (C)
        cont = push_out(L, VL_F32, single, n, 1, &c);
    else
        lua_pushnil(L);
    if (D)
        disc = push_out(L, VL_I32, single, n, 1, &d);
    else
        lua_pushnil(L);
    vl_tensor *lpc = push_out(L, VL_F32, single, n, 0, NULL);
    if (D)
        lpd = push_out(L, VL_F32, single, n, 1, &d);
    else
        lua_pushnil(L);
    if (vksac_agent_act(agent->h, s->data, n, sample, cont ? cont->data : NULL, disc ? disc->data : NULL,
                        lpc->data, lpd ? lpd->data : NULL) != VKSAC_OK)
        return vl_fail(L, agent->ctx, fn);
    return 4;
}

/* Floats per row of one critic's output: M·(c + Σnᵢ). */
static uint32_t q_width(const vksac_agent_config *c)
{
    uint32_t w = c->num_cont_actions > 0;
    for (uint32_t i = 0; i < c->num_discrete_heads; i++)
        w += c->num_discrete_actions[i];
    return w * (c->num_quantiles > 1 ? c->num_quantiles : 1);
}

void vl_eval_critic(lua_State *L, vl_net *c, const float *states, const float *cont, uint32_t n, float *q)
{
    vl_agent *agent = vl_net_agent(L, c, false);
    vksac_agent_config full;
    if (vksac_agent_config_get(agent->h, &full) != VKSAC_OK)
        vl_fail(L, agent->ctx, "critic");
    size_t per = (size_t)n * q_width(&c->cfg);
    float *all = q;
    if (full.num_critics > 1)   /* a SAC's critic: the API gives all of them */
        all = lua_newuserdatauv(L, full.num_critics * per * sizeof *all, 0);
    if (vksac_agent_q(agent->h, states, cont, n, all) != VKSAC_OK)
        vl_fail(L, agent->ctx, "critic");
    if (all != q) {
        memcpy(q, all + c->index * per, per * sizeof *q);
        lua_pop(L, 1);
    }
}

/* Copies `width` columns starting at `col` of each row of q (count
 * critics × n rows × Q) into a new tensor [count×] [n×] dims. */
static void push_part(lua_State *L, const float *q, uint32_t count, uint32_t n, uint32_t Q, uint32_t col,
                      uint32_t width, bool single, bool stacked, int ndims, const int64_t *dims)
{
    int64_t shape[VL_MAX_RANK];
    int rank = 0;
    if (stacked)
        shape[rank++] = count;
    if (!single)
        shape[rank++] = n;
    for (int i = 0; i < ndims; i++)
        shape[rank++] = dims[i];
    vl_tensor *t = vl_pushtensor(L, VL_F32, rank, shape);
    float *dst = t->data;
    for (size_t r = 0; r < (size_t)count * n; r++)
        memcpy(dst + r * width, q + r * Q + col, width * sizeof *dst);
}

void vl_push_q(lua_State *L, const vksac_agent_config *cfg, const float *q, uint32_t count, uint32_t n,
               bool single, bool stacked)
{
    uint32_t M = cfg->num_quantiles > 1 ? cfg->num_quantiles : 1, Q = q_width(cfg), col = 0;
    int64_t m = M;
    if (cfg->num_cont_actions) {
        push_part(L, q, count, n, Q, 0, M, single, stacked, M > 1, &m);
        col = M;
    } else
        lua_pushnil(L);
    if (!cfg->num_discrete_heads) {
        lua_pushnil(L);
        return;
    }
    lua_createtable(L, (int)cfg->num_discrete_heads, 0);
    for (uint32_t i = 0; i < cfg->num_discrete_heads; i++) {
        int64_t dims[2] = {cfg->num_discrete_actions[i], M};
        uint32_t w = cfg->num_discrete_actions[i] * M;
        push_part(L, q, count, n, Q, col, w, single, stacked, M > 1 ? 2 : 1, dims);
        lua_rawseti(L, -2, i + 1);
        col += w;
    }
}

vl_critic_in vl_critic_inputs(lua_State *L, const vksac_agent_config *cfg, const char *fn)
{
    vl_critic_in in = {0};
    uint32_t na;
    bool single_a = false;
    in.states = vl_rows(L, 2, VL_F32, cfg->dim_state, fn, 1, "states", "dim_state", &in.n, &in.single)->data;
    if (cfg->num_cont_actions) {
        vl_tensor *at = vl_rows(L, 3, VL_F32, cfg->num_cont_actions, fn, 2, "cont_actions", "num_cont_actions",
                                &na, &single_a);
        if (na != in.n || single_a != in.single)
            vl_arg_error(&(vl_args){L, 3, 2, fn}, NULL, "cont_actions must have %d rows like states, got %d",
                         (int)in.n, (int)na);
        in.actions = at->data;
    }
    in.width = q_width(cfg);
    return in;
}

/* critic(states, cont_actions) → q_cont ([n] or n×M; nil without
 * continuous actions), {q_head1 (n×n₁[×M]), …} (nil without heads). */
int vl_critic_call(lua_State *L)
{
    vl_net *c = vl_check_critic(L, 1);
    vl_critic_in in = vl_critic_inputs(L, &c->cfg, "critic");
    float *q = lua_newuserdatauv(L, (size_t)in.n * in.width * sizeof *q, 0);
    vl_eval_critic(L, c, in.states, in.actions, in.n, q);
    vl_push_q(L, &c->cfg, q, 1, in.n, in.single, false);
    return 2;
}
