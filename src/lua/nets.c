/* Actor and Critic: keyword constructors mirroring the seed's Python API,
 * and calls that run the network on a batch of states. */
#include <string.h>

#include "vl.h"

static const char *const ACTIVATIONS[] = {"relu2", "relu", "crelu", NULL};
static const char *const SIGMAS[] = {"exp", "sigmoid", NULL};

static const char *const ACTOR_KEYS[] = {
    "dim_state", "num_cont_actions", "num_discrete_actions", "dim_hidden", "mlp_depth", "expansion", "activation",
    "dropout", "final_norm", "action_low", "action_high", "sigma", "gumbel_temperature", "rsmnorm", "seed", NULL};
static const char *const CRITIC_KEYS[] = {
    "dim_state", "num_cont_actions", "num_discrete_actions", "dim_hidden", "mlp_depth", "expansion", "activation",
    "dropout", "final_norm", "num_quantiles", "rsmnorm", "seed", NULL};

/* ---- reading keyword tables ---------------------------------------------- */

void vl_read_shape(const vl_args *a, vksac_agent_config *cfg, bool required)
{
    lua_getfield(a->L, a->idx, "dim_state");
    bool missing = lua_isnil(a->L, -1);
    lua_pop(a->L, 1);
    if (missing && required)
        vl_arg_error(a, "dim_state", "is required (the size of a state vector)");
    cfg->dim_state = vl_field_count(a, "dim_state", cfg->dim_state, true);
    cfg->num_cont_actions = vl_field_count(a, "num_cont_actions", cfg->num_cont_actions, false);
    lua_getfield(a->L, a->idx, "num_discrete_actions");
    bool has = !lua_isnil(a->L, -1);
    lua_pop(a->L, 1);
    if (has)
        cfg->num_discrete_heads = vl_field_counts(a, "num_discrete_actions", cfg->num_discrete_actions,
                                                  VKSAC_MAX_DISCRETE_HEADS);
    if (cfg->num_cont_actions + cfg->num_discrete_heads == 0)
        vl_arg_error(a, NULL, "no actions: set num_cont_actions or num_discrete_actions");
}

void vl_read_net(const vl_args *a, vksac_net_config *net)
{
    net->dim_hidden = vl_field_count(a, "dim_hidden", net->dim_hidden, true);
    net->mlp_depth = vl_field_count(a, "mlp_depth", net->mlp_depth, true);
    net->expansion = vl_field_count(a, "expansion", net->expansion, true);
    const char *act = vl_field_string(a, "activation", ACTIVATIONS);
    if (act)
        net->activation = act;
    net->dropout = (float)vl_field_number(a, "dropout", net->dropout);
    net->final_norm = vl_field_bool(a, "final_norm", net->final_norm);
}

static uint64_t read_seed(const vl_args *a)
{
    lua_State *L = a->L;
    if (lua_getfield(L, a->idx, "seed") == LUA_TNIL) {
        lua_pop(L, 1);
        return vl_next_seed(L);
    }
    int isint = 0;
    lua_Integer s = lua_tointegerx(L, -1, &isint);
    if (!isint || lua_type(L, -1) != LUA_TNUMBER || s <= 0)
        vl_arg_error(a, "seed", "must be a positive integer, got %s", luaL_tolstring(L, -1, NULL));
    lua_pop(L, 1);
    return (uint64_t)s;
}

static void read_bounds(const vl_args *a, vl_net *n)
{
    uint32_t C = n->cfg.num_cont_actions;
    bool lo = false, hi = false;
    for (uint32_t j = 0; j < C; j++) {
        n->low[j] = -1.0f;
        n->high[j] = 1.0f;
    }
    vl_field_numbers(a, "action_low", n->low, C, &lo);
    vl_field_numbers(a, "action_high", n->high, C, &hi);
    if ((lo || hi) && C == 0)
        vl_arg_error(a, lo ? "action_low" : "action_high", "needs continuous actions (num_cont_actions > 0)");
    n->cfg.action_low = n->low;
    n->cfg.action_high = n->high;
}

static vl_net *new_net(lua_State *L, const char *cls)
{
    vl_net *n = lua_newuserdatauv(L, sizeof *n, 0);
    memset(n, 0, sizeof *n);
    luaL_setmetatable(L, cls);
    return n;
}

static void need_table(const vl_args *a)
{
    if (!lua_istable(a->L, a->idx))
        vl_arg_error(a, NULL, "table of options expected, got %s", luaL_typename(a->L, a->idx));
}

static const char *const ACTOR_RENAMES[] = {"actor.", "", NULL};
static const char *const CRITIC_RENAMES[] = {"critic.", "", NULL};

void vl_read_actor(const vl_args *a, vl_net *n)
{
    lua_State *L = a->L;
    need_table(a);
    vl_check_keys(a, ACTOR_KEYS);
    vksac_agent_config *c = &n->cfg;
    vl_read_shape(a, c, true);
    vl_read_net(a, &c->actor);
    read_bounds(a, n);
    c->sigma = vl_field_string(a, "sigma", SIGMAS);
    c->gumbel_temperature = (float)vl_field_number(a, "gumbel_temperature", 0.0);
    if (lua_getfield(L, a->idx, "gumbel_temperature") != LUA_TNIL && !(c->gumbel_temperature > 0.0f))
        vl_arg_error(a, "gumbel_temperature", "must be positive, got %s", luaL_tolstring(L, -1, NULL));
    lua_pop(L, 1);
    c->no_rsmnorm = !vl_field_bool(a, "rsmnorm", true);
    c->actor_seed = read_seed(a);
    vksac_agent_config resolved;
    vl_resolve(L, c, &resolved, a->fn, a->arg, ACTOR_RENAMES);
    c->sigma = resolved.sigma;   /* static strings; the table may go */
    c->actor.activation = resolved.actor.activation;
}

/* Actor{dim_state=, num_cont_actions=, num_discrete_actions={…}, …} */
static int l_actor_new(lua_State *L)
{
    vl_args a = {L, 1, 1, "Actor"};
    vl_net *n = new_net(L, VL_ACTOR);
    vl_read_actor(&a, n);
    return 1;
}

void vl_read_critic(const vl_args *a, vl_net *n, uint32_t default_m)
{
    lua_State *L = a->L;
    need_table(a);
    vl_check_keys(a, CRITIC_KEYS);
    vksac_agent_config *c = &n->cfg;
    vl_read_shape(a, c, true);
    vl_read_net(a, &c->critic);
    c->num_quantiles = vl_field_count(a, "num_quantiles", default_m, true);
    c->quantiled_critics = c->num_quantiles > 1;
    c->num_critics = 1;
    c->no_rsmnorm = !vl_field_bool(a, "rsmnorm", true);
    c->critic_seeds[0] = read_seed(a);
    vksac_agent_config resolved;
    vl_resolve(L, c, &resolved, a->fn, a->arg, CRITIC_RENAMES);
    c->critic.activation = resolved.critic.activation;
}

const char *vl_critic_mismatch(const vksac_agent_config *x, const vksac_agent_config *y)
{
    const vksac_net_config *a = &x->critic, *b = &y->critic;
    if (x->dim_state != y->dim_state)
        return "dim_state";
    if (x->num_cont_actions != y->num_cont_actions)
        return "num_cont_actions";
    if (x->num_discrete_heads != y->num_discrete_heads ||
        memcmp(x->num_discrete_actions, y->num_discrete_actions, x->num_discrete_heads * sizeof(uint32_t)))
        return "num_discrete_actions";
    if (x->num_quantiles != y->num_quantiles)
        return "num_quantiles";
    if (x->no_rsmnorm != y->no_rsmnorm)
        return "rsmnorm";
    if (a->dim_hidden != b->dim_hidden)
        return "dim_hidden";
    if (a->mlp_depth != b->mlp_depth)
        return "mlp_depth";
    if (a->expansion != b->expansion)
        return "expansion";
    if (strcmp(a->activation ? a->activation : "relu2", b->activation ? b->activation : "relu2"))
        return "activation";
    if (a->dropout != b->dropout)
        return "dropout";
    if (!a->final_norm != !b->final_norm)
        return "final_norm";
    return NULL;
}

/* Critic{dim_state=, num_cont_actions=, num_quantiles=, dropout=, …} */
static int l_critic_new(lua_State *L)
{
    vl_args a = {L, 1, 1, "Critic"};
    vl_net *n = new_net(L, VL_CRITIC);
    vl_read_critic(&a, n, 1);
    return 1;
}

/* ---- objects ------------------------------------------------------------- */

vl_net *vl_test_net(lua_State *L, int idx, const char *cls)
{
    return luaL_testudata(L, idx, cls);
}

static vl_net *check_open(lua_State *L, int idx, const char *cls, const char *what)
{
    vl_net *n = luaL_checkudata(L, idx, cls);
    if (n->closed)
        luaL_error(L, "attempt to use a closed %s", what);
    return n;
}

vl_net *vl_check_actor(lua_State *L, int idx) { return check_open(L, idx, VL_ACTOR, "Actor"); }
vl_net *vl_check_critic(lua_State *L, int idx) { return check_open(L, idx, VL_CRITIC, "Critic"); }

void vl_bind(vl_net *n, vl_agent *agent, uint32_t index)
{
    vl_agent_release(n->agent);
    vl_agent_retain(agent);
    n->agent = agent;
    n->index = index;
    n->bound = true;
}

void vl_push_bound(lua_State *L, const char *cls, const vksac_agent_config *cfg, vl_agent *agent, uint32_t index)
{
    vl_net *n = new_net(L, cls);
    n->cfg = *cfg;
    memcpy(n->low, cfg->action_low, cfg->num_cont_actions * sizeof *n->low);
    memcpy(n->high, cfg->action_high, cfg->num_cont_actions * sizeof *n->high);
    n->cfg.action_low = n->low;
    n->cfg.action_high = n->high;
    vl_bind(n, agent, index);
}

/* A network alone computes through a private agent whose other parts are
 * as small as the API allows. */
vl_agent *vl_net_agent(lua_State *L, vl_net *n, bool actor)
{
    if (n->agent)
        return n->agent;
    vksac_agent_config c = n->cfg;
    vksac_net_config *other = actor ? &c.critic : &c.actor;
    *other = (vksac_net_config){.dim_hidden = 4, .mlp_depth = 1, .expansion = 1};
    c.batch_size = 1;
    c.replay_capacity = 1;
    c.seed = actor ? c.actor_seed : c.critic_seeds[0];
    if (actor)
        c.num_critics = 1;
    n->agent = vl_agent_create(L, &c, actor ? "Actor" : "Critic");
    return n->agent;
}

static int net_gc(lua_State *L)
{
    vl_net *n = lua_touserdata(L, 1);
    if (!n->closed) {
        vl_agent_release(n->agent);
        n->agent = NULL;
        n->closed = true;
    }
    return 0;
}

static void push_shape(lua_State *L, luaL_Buffer *b, const vksac_agent_config *c)
{
    lua_pushfstring(L, "dim_state=%d", (int)c->dim_state);
    luaL_addvalue(b);
    if (c->num_cont_actions) {
        lua_pushfstring(L, ", num_cont_actions=%d", (int)c->num_cont_actions);
        luaL_addvalue(b);
    }
    if (c->num_discrete_heads) {
        luaL_addstring(b, ", num_discrete_actions={");
        for (uint32_t i = 0; i < c->num_discrete_heads; i++) {
            lua_pushfstring(L, "%s%d", i ? ", " : "", (int)c->num_discrete_actions[i]);
            luaL_addvalue(b);
        }
        luaL_addstring(b, "}");
    }
}

static int net_tostring(lua_State *L, const char *what, bool actor)
{
    vl_net *n = lua_touserdata(L, 1);
    if (n->closed) {
        lua_pushfstring(L, "%s (closed)", what);
        return 1;
    }
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    lua_pushfstring(L, "%s(", what);
    luaL_addvalue(&b);
    push_shape(L, &b, &n->cfg);
    const vksac_net_config *net = actor ? &n->cfg.actor : &n->cfg.critic;
    lua_pushfstring(L, ", dim_hidden=%d, mlp_depth=%d", (int)(net->dim_hidden ? net->dim_hidden : 256),
                    (int)(net->mlp_depth ? net->mlp_depth : 2));
    luaL_addvalue(&b);
    if (!actor && n->cfg.num_quantiles > 1) {
        lua_pushfstring(L, ", num_quantiles=%d", (int)n->cfg.num_quantiles);
        luaL_addvalue(&b);
    }
    luaL_addstring(&b, n->bound ? ") [in a SAC]" : ")");
    luaL_pushresult(&b);
    return 1;
}

static int actor_tostring(lua_State *L) { return net_tostring(L, "Actor", true); }
static int critic_tostring(lua_State *L) { return net_tostring(L, "Critic", false); }

/* actor(states [, {sample = false}]) → cont_actions, discrete, cont_logprob, discrete_logprob */
static int actor_call(lua_State *L)
{
    vl_net *n = vl_check_actor(L, 1);
    bool sample = false;
    if (!lua_isnoneornil(L, 3)) {
        static const char *const keys[] = {"sample", NULL};
        vl_args o = {L, 3, 2, "actor"};
        need_table(&o);
        vl_check_keys(&o, keys);
        sample = vl_field_bool(&o, "sample", false);
    }
    vl_agent *agent = vl_net_agent(L, n, true);
    return vl_act(L, agent, &n->cfg, 2, sample, "actor");
}

void vl_open_nets(lua_State *L)
{
    static const luaL_Reg actor_meta[] = {{"__call", actor_call}, {"__gc", net_gc}, {"__close", net_gc},
                                          {"__tostring", actor_tostring}, {NULL, NULL}};
    static const luaL_Reg critic_meta[] = {{"__call", vl_critic_call}, {"__gc", net_gc}, {"__close", net_gc},
                                           {"__tostring", critic_tostring}, {NULL, NULL}};
    static const luaL_Reg net_methods[] = {{"close", net_gc}, {NULL, NULL}};
    static const luaL_Reg fns[] = {{"Actor", l_actor_new}, {"Critic", l_critic_new}, {NULL, NULL}};
    vl_new_class(L, VL_ACTOR, net_methods, actor_meta);
    vl_new_class(L, VL_CRITIC, net_methods, critic_meta);
    luaL_setfuncs(L, fns, 0);
    vl_open_multi(L);
}
