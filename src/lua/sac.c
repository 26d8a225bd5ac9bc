/* SAC{actor = …, critics = {…}, …}: an agent built from an Actor and
 * critics (objects, option tables or a MultipleCritics), its training
 * calls, checkpoints, and vksac.load. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "vl.h"

#define VL_SAC "vksac.SAC"

typedef struct vl_sac {
    vl_agent *agent;
    vksac_agent_config cfg;      /* resolved */
    float low[VKSAC_MAX_CONT_ACTIONS], high[VKSAC_MAX_CONT_ACTIONS];
    bool closed;
} vl_sac;

/* Optimiser options: `x` sets both networks, `actor_x` / `critic_x` one. */
static const char *const SAC_KEYS[] = {
    "actor", "critics", "quantiled_critics", "frac_atom_keep", "use_softmin", "softmin_temperature",
    "reward_discount_rate", "reward_scale", "ema_decay", "temperature_learning_rate", "initial_log_alpha",
    "target_entropy", "target_entropy_discrete", "batch_size", "replay_capacity", "updates_per_step",
    "actor_update_every", "seed",
    "learning_rate", "optimizer", "betas", "weight_decay", "max_grad_norm", "regen", "regen_reg_rate",
    "actor_learning_rate", "actor_optimizer", "actor_betas", "actor_weight_decay", "actor_max_grad_norm",
    "actor_regen", "actor_regen_reg_rate",
    "critic_learning_rate", "critic_optimizer", "critic_betas", "critic_weight_decay", "critic_max_grad_norm",
    "critic_regen", "critic_regen_reg_rate", NULL};
static const char *const OPTIMIZERS[] = {"adam_atan2", "adam", "adamw", NULL};
static const char *const REGENS[] = {"l2", "wasserstein", "none", NULL};
static const char *const RENAMES[] = {"actor.", "actor_", "critic.", "critic_", NULL};

static vl_sac *check_sac(lua_State *L, int idx)
{
    vl_sac *s = luaL_checkudata(L, idx, VL_SAC);
    if (s->closed)
        luaL_error(L, "attempt to use a closed SAC");
    return s;
}

/* ---- options ------------------------------------------------------------- */

static void read_opt(const vl_args *a, const char *prefix, vksac_net_config *net)
{
    char k[64];
#define KEY(name) (snprintf(k, sizeof k, "%s%s", prefix, name), k)
    net->learning_rate = (float)vl_field_number(a, KEY("learning_rate"), net->learning_rate);
    const char *o = vl_field_string(a, KEY("optimizer"), OPTIMIZERS);
    net->optimizer = o ? o : net->optimizer;
    bool has = false;
    float betas[2];
    vl_field_numbers(a, KEY("betas"), betas, 2, &has);
    if (has)
        memcpy(net->betas, betas, sizeof betas);
    net->weight_decay = (float)vl_field_number(a, KEY("weight_decay"), net->weight_decay);
    net->max_grad_norm = (float)vl_field_number(a, KEY("max_grad_norm"), net->max_grad_norm);
    const char *r = vl_field_string(a, KEY("regen"), REGENS);
    net->regen = r ? r : net->regen;
    net->regen_reg_rate = (float)vl_field_number(a, KEY("regen_reg_rate"), net->regen_reg_rate);
#undef KEY
}

static void read_training(const vl_args *a, vksac_agent_config *c)
{
    c->reward_discount_rate = (float)vl_field_number(a, "reward_discount_rate", 0.0);
    c->reward_scale = (float)vl_field_number(a, "reward_scale", 0.0);
    if (lua_getfield(a->L, a->idx, "reward_scale") != LUA_TNIL && c->reward_scale == 0.0f)
        vl_arg_error(a, "reward_scale", "must not be 0");
    lua_pop(a->L, 1);
    c->ema_decay = (float)vl_field_number(a, "ema_decay", 0.0);
    c->temperature_learning_rate = (float)vl_field_number(a, "temperature_learning_rate", 0.0);
    c->initial_log_alpha = (float)vl_field_number(a, "initial_log_alpha", 0.0);
    bool hc = false, hd = false;
    c->target_entropy_cont = (float)vl_field_number(a, "target_entropy", -(double)c->num_cont_actions);
    lua_getfield(a->L, a->idx, "target_entropy");
    hc = !lua_isnil(a->L, -1);
    lua_pop(a->L, 1);
    for (uint32_t i = 0; i < c->num_discrete_heads; i++)
        c->target_entropy_discrete[i] = 0.98f * logf((float)c->num_discrete_actions[i]);
    vl_field_numbers(a, "target_entropy_discrete", c->target_entropy_discrete, c->num_discrete_heads, &hd);
    c->override_target_entropy = hc || hd;
    c->batch_size = vl_field_count(a, "batch_size", 0, true);
    c->replay_capacity = vl_field_count(a, "replay_capacity", 0, true);
    c->updates_per_step = vl_field_count(a, "updates_per_step", 0, true);
    c->actor_update_every = vl_field_count(a, "actor_update_every", 0, true);
    lua_Integer seed = 0;
    if (lua_getfield(a->L, a->idx, "seed") != LUA_TNIL) {
        int isint = 0;
        seed = lua_tointegerx(a->L, -1, &isint);
        if (!isint || lua_type(a->L, -1) != LUA_TNUMBER || seed < 0)
            vl_arg_error(a, "seed", "must be a non-negative integer, got %s", luaL_tolstring(a->L, -1, NULL));
    } else
        seed = (lua_Integer)(vl_next_seed(a->L) >> 1);
    lua_pop(a->L, 1);
    c->seed = (uint64_t)seed;
}

/* ---- building ------------------------------------------------------------ */

/* The actor of field 'actor', as an unbound Actor object pushed. */
static vl_net *push_actor(const vl_args *a)
{
    lua_State *L = a->L;
    int t = lua_getfield(L, a->idx, "actor");
    vl_net *n = vl_test_net(L, -1, VL_ACTOR);
    if (n) {
        vl_check_actor(L, -1);
        if (n->bound)
            vl_arg_error(a, "actor", "is an Actor that already belongs to a SAC agent");
        return n;
    }
    if (t == LUA_TNIL)
        vl_arg_error(a, "actor", "is required (an Actor or a table of Actor options)");
    if (t != LUA_TTABLE || lua_getmetatable(L, -1))
        vl_arg_error(a, "actor", "must be an Actor or a table of Actor options, got %s", luaL_typename(L, -1));
    n = lua_newuserdatauv(L, sizeof *n, 0);
    memset(n, 0, sizeof *n);
    luaL_setmetatable(L, VL_ACTOR);
    vl_args t2 = {L, lua_absindex(L, -2), a->arg, a->fn};
    vl_read_actor(&t2, n);
    lua_remove(L, -2);
    return n;
}

/* A default critic for the actor's shape, pushed. */
static vl_net *push_default_critic(lua_State *L, const vl_net *actor, uint32_t m)
{
    vl_net *c = lua_newuserdatauv(L, sizeof *c, 0);
    memset(c, 0, sizeof *c);
    luaL_setmetatable(L, VL_CRITIC);
    const vksac_agent_config *s = &actor->cfg;
    c->cfg.dim_state = s->dim_state;
    c->cfg.num_cont_actions = s->num_cont_actions;
    c->cfg.num_discrete_heads = s->num_discrete_heads;
    memcpy(c->cfg.num_discrete_actions, s->num_discrete_actions, sizeof s->num_discrete_actions);
    c->cfg.no_rsmnorm = s->no_rsmnorm;
    c->cfg.num_quantiles = m;
    c->cfg.quantiled_critics = m > 1;
    c->cfg.num_critics = 1;
    c->cfg.critic_seeds[0] = vl_next_seed(L);
    return c;
}

/* Element i of the list at idx as a Critic object, pushed. */
static vl_net *push_listed_critic(const vl_args *a, int list, int i, uint32_t m)
{
    lua_State *L = a->L;
    int t = lua_rawgeti(L, list, i);
    vl_net *c = vl_test_net(L, -1, VL_CRITIC);
    if (c) {
        vl_check_critic(L, -1);
        return c;
    }
    if (t != LUA_TTABLE || lua_getmetatable(L, -1))
        vl_arg_error(a, "critics", "must list Critics or tables of Critic options, got %s at [%d]",
                     luaL_typename(L, -1), i);
    c = lua_newuserdatauv(L, sizeof *c, 0);
    memset(c, 0, sizeof *c);
    luaL_setmetatable(L, VL_CRITIC);
    vl_args t2 = {L, lua_absindex(L, -2), a->arg, a->fn};
    vl_read_critic(&t2, c, m);
    lua_remove(L, -2);
    return c;
}

static int quantiled_option(const vl_args *a)
{
    if (lua_getfield(a->L, a->idx, "quantiled_critics") == LUA_TNIL) {
        lua_pop(a->L, 1);
        return -1;
    }
    lua_pop(a->L, 1);
    return vl_field_bool(a, "quantiled_critics", false);
}

/* Fills list (a table at `list`) with the critics and cfg's critic part. */
static void gather_critics(const vl_args *a, const vl_net *actor, int list, vksac_agent_config *cfg)
{
    lua_State *L = a->L;
    int q = quantiled_option(a);
    int t = lua_getfield(L, a->idx, "critics");
    int src = lua_gettop(L);
    vl_multi *m = vl_test_multi(L, src);
    uint32_t count = 2;
    if (m) {
        if (m->closed)
            vl_arg_error(a, "critics", "is a closed %s", m->quantiled ? "MultipleQuantileCritics" : "MultipleCritics");
        if (q >= 0 && q != m->quantiled)
            vl_arg_error(a, "quantiled_critics", "is %s but critics is a %s", q ? "true" : "false",
                         m->quantiled ? "MultipleQuantileCritics" : "MultipleCritics");
        q = m->quantiled;
        cfg->use_softmin = m->use_softmin;
        cfg->softmin_temperature = m->softmin_temperature;
        cfg->frac_atom_keep = m->frac_atom_keep;
        lua_getiuservalue(L, src, 1);
        lua_replace(L, src);
        count = m->count;
    } else if (t == LUA_TTABLE && !lua_getmetatable(L, src)) {
        count = (uint32_t)luaL_len(L, src);
        if (count < 1 || count > VKSAC_MAX_CRITICS)
            vl_arg_error(a, "critics", "must list 1 to %d critics, got %d", VKSAC_MAX_CRITICS, (int)count);
    } else if (t != LUA_TNIL)
        vl_arg_error(a, "critics", "must be a list of critics or a MultipleCritics, got %s", luaL_typename(L, src));
    uint32_t dm = q == 1 ? 25 : 1;
    for (uint32_t i = 1; i <= count; i++) {
        vl_net *c = t == LUA_TNIL ? push_default_critic(L, actor, dm) : push_listed_critic(a, src, (int)i, dm);
        if (c->bound)
            vl_arg_error(a, "critics", "holds a Critic that already belongs to a SAC agent (at [%d])", (int)i);
        for (uint32_t j = 1; j < i; j++) {
            lua_rawgeti(L, list, j);
            bool same = lua_touserdata(L, -1) == (void *)c;
            lua_pop(L, 1);
            if (same)
                vl_arg_error(a, "critics", "lists the same Critic twice (at [%d] and [%d])", (int)j, (int)i);
        }
        if (q < 0)
            q = c->cfg.num_quantiles > 1;
        if (q != (c->cfg.num_quantiles > 1))
            vl_arg_error(a, "critics", "[%d] has num_quantiles %d but quantiled_critics is %s", (int)i,
                         (int)c->cfg.num_quantiles, q ? "true" : "false");
        const char *diff = vl_critic_mismatch(&actor->cfg, &c->cfg);
        if (diff && (!strcmp(diff, "dim_state") || !strcmp(diff, "num_cont_actions") ||
                     !strcmp(diff, "num_discrete_actions") || !strcmp(diff, "rsmnorm")))
            vl_arg_error(a, "critics", "[%d] has another '%s' than the actor", (int)i, diff);
        if (i > 1) {
            lua_rawgeti(L, list, 1);
            diff = vl_critic_mismatch(&((vl_net *)lua_touserdata(L, -1))->cfg, &c->cfg);
            lua_pop(L, 1);
            if (diff)
                vl_arg_error(a, "critics", "must share one shape: [%d] has another '%s' than [1]", (int)i, diff);
        }
        cfg->critic = c->cfg.critic;
        cfg->num_quantiles = c->cfg.num_quantiles;
        cfg->critic_seeds[i - 1] = c->cfg.critic_seeds[0];
        lua_rawseti(L, list, i);
    }
    cfg->num_critics = count;
    cfg->quantiled_critics = q == 1;
    lua_settop(L, src - 1);
}

static void read_critic_options(const vl_args *a, vksac_agent_config *cfg)
{
    lua_State *L = a->L;
    if (lua_getfield(L, a->idx, "use_softmin") != LUA_TNIL)
        cfg->use_softmin = vl_field_bool(a, "use_softmin", false);
    lua_pop(L, 1);
    cfg->softmin_temperature = (float)vl_field_number(a, "softmin_temperature", cfg->softmin_temperature);
    cfg->frac_atom_keep = (float)vl_field_number(a, "frac_atom_keep", cfg->frac_atom_keep);
}

static vl_sac *push_sac(lua_State *L)
{
    vl_sac *s = lua_newuserdatauv(L, sizeof *s, 1);
    memset(s, 0, sizeof *s);
    luaL_setmetatable(L, VL_SAC);
    return s;
}

static void keep_resolved(vl_sac *s, const vksac_agent_config *cfg)
{
    s->cfg = *cfg;
    memcpy(s->low, cfg->action_low, cfg->num_cont_actions * sizeof *s->low);
    memcpy(s->high, cfg->action_high, cfg->num_cont_actions * sizeof *s->high);
    s->cfg.action_low = s->low;
    s->cfg.action_high = s->high;
}

/* SAC{actor = Actor or {…}, critics = {…} or MultipleCritics, …} */
static int l_sac_new(lua_State *L)
{
    vl_args a = {L, 1, 1, "SAC"};
    if (!lua_istable(L, 1))
        vl_arg_error(&a, NULL, "table of options expected, got %s", luaL_typename(L, 1));
    vl_check_keys(&a, SAC_KEYS);
    lua_settop(L, 1);
    vl_sac *s = push_sac(L);                 /* 2 */
    lua_createtable(L, 0, 2);                /* 3: what the agent keeps alive */
    vl_net *actor = push_actor(&a);          /* 4 */
    vksac_agent_config cfg = actor->cfg;
    lua_createtable(L, 2, 0);                /* 5: critics */
    gather_critics(&a, actor, 5, &cfg);
    read_critic_options(&a, &cfg);
    read_opt(&a, "", &cfg.actor);
    cfg.critic.learning_rate = cfg.actor.learning_rate;
    cfg.critic.optimizer = cfg.actor.optimizer;
    memcpy(cfg.critic.betas, cfg.actor.betas, sizeof cfg.actor.betas);
    cfg.critic.weight_decay = cfg.actor.weight_decay;
    cfg.critic.max_grad_norm = cfg.actor.max_grad_norm;
    cfg.critic.regen = cfg.actor.regen;
    cfg.critic.regen_reg_rate = cfg.actor.regen_reg_rate;
    read_opt(&a, "actor_", &cfg.actor);
    read_opt(&a, "critic_", &cfg.critic);
    read_training(&a, &cfg);
    vksac_agent_config resolved;
    vl_resolve(L, &cfg, &resolved, "SAC", 1, RENAMES);
    s->agent = vl_agent_create(L, &resolved, "SAC");
    keep_resolved(s, &resolved);
    vl_bind(actor, s->agent, 0);
    for (uint32_t i = 0; i < resolved.num_critics; i++) {
        lua_rawgeti(L, 5, i + 1);
        vl_net *c = lua_touserdata(L, -1);
        vl_bind(c, s->agent, i);
        c->cfg.num_quantiles = resolved.num_quantiles;   /* as the agent's outputs are shaped */
        lua_pop(L, 1);
    }
    lua_setfield(L, 3, "critics");
    lua_setfield(L, 3, "actor");
    lua_setiuservalue(L, 2, 1);
    return 1;
}

/* ---- training calls ------------------------------------------------------ */

static int push_stats(lua_State *L, vl_sac *s, const char *fn)
{
    vksac_stats st;
    if (vksac_agent_stats(s->agent->h, &st) != VKSAC_OK)
        return vl_fail(L, s->agent->ctx, fn);
    vl_push_stats(L, &st);
    return 1;
}

/* agent{states=, cont_actions=, discrete_actions=, rewards=, done=,
 * next_states=}: one update on this batch → statistics. */
static int sac_call(lua_State *L)
{
    vl_sac *s = check_sac(L, 1);
    vl_args a = {L, 2, 1, "agent"};
    vksac_transitions t;
    vl_read_transitions(&a, &s->cfg, &t);
    if (vksac_agent_update_batch(s->agent->h, &t) != VKSAC_OK)
        return vl_fail(L, s->agent->ctx, "agent");
    return push_stats(L, s, "agent");
}

/* agent:act(states [, {sample = false}]) → as actor(states, …) */
static int sac_act(lua_State *L)
{
    vl_sac *s = check_sac(L, 1);
    bool sample = false;
    if (!lua_isnoneornil(L, 3)) {
        static const char *const keys[] = {"sample", NULL};
        vl_args o = {L, 3, 2, "act"};
        if (!lua_istable(L, 3))
            vl_arg_error(&o, NULL, "table of options expected, got %s", luaL_typename(L, 3));
        vl_check_keys(&o, keys);
        sample = vl_field_bool(&o, "sample", false);
    }
    return vl_act(L, s->agent, &s->cfg, 2, sample, "act");
}

/* agent:observe{…}: transitions into the replay buffer. */
static int sac_observe(lua_State *L)
{
    vl_sac *s = check_sac(L, 1);
    vl_args a = {L, 2, 1, "observe"};
    vksac_transitions t;
    vl_read_transitions(&a, &s->cfg, &t);
    if (vksac_agent_observe(s->agent->h, &t) != VKSAC_OK)
        return vl_fail(L, s->agent->ctx, "observe");
    return 0;
}

/* agent:update([n = 1]) → statistics of the last of n sampled updates. */
static int sac_update(lua_State *L)
{
    vl_sac *s = check_sac(L, 1);
    lua_Integer n = luaL_optinteger(L, 2, 1);
    if (n < 0 || n > 1000000)
        vl_arg_error(&(vl_args){L, 2, 1, "update"}, NULL, "the number of updates must be in [0, 1000000], got %I", n);
    if (vksac_agent_update(s->agent->h, (uint32_t)n) != VKSAC_OK)
        return vl_fail(L, s->agent->ctx, "update");
    return push_stats(L, s, "update");
}

static int sac_stats(lua_State *L) { return push_stats(L, check_sac(L, 1), "stats"); }

/* agent:q(states, cont_actions) → every critic's values, stacked. */
static int sac_q(lua_State *L)
{
    vl_sac *s = check_sac(L, 1);
    const vksac_agent_config *c = &s->cfg;
    vl_critic_in in = vl_critic_inputs(L, c, "q");
    float *q = lua_newuserdatauv(L, (size_t)c->num_critics * in.n * in.width * sizeof *q, 0);
    if (vksac_agent_q(s->agent->h, in.states, in.actions, in.n, q) != VKSAC_OK)
        return vl_fail(L, s->agent->ctx, "q");
    vl_push_q(L, c, q, c->num_critics, in.n, in.single, true);
    return 2;
}

/* ---- checkpoints ---------------------------------------------------------- */

/* true, or nil and the message (I/O errors are values, as in io.open). */
static int saved(lua_State *L, vl_sac *s, vksac_status st)
{
    if (st != VKSAC_OK) {
        luaL_pushfail(L);
        lua_pushstring(L, vksac_error(vl_ctx_handle(s->agent->ctx)));
        return 2;
    }
    lua_pushboolean(L, 1);
    return 1;
}

/* agent:save(path [, {replay = false, metadata = nil}]) → true, or nil and
 * the message. replay: the replay buffer too; metadata: a string of the
 * caller's, given back by agent:metadata() after vksac.load. */
static int sac_save(lua_State *L)
{
    vl_sac *s = check_sac(L, 1);
    const char *path = luaL_checkstring(L, 2);
    if (lua_isnoneornil(L, 3))
        return saved(L, s, vksac_agent_save(s->agent->h, path));
    static const char *const keys[] = {"replay", "metadata", NULL};
    vl_args o = {L, 3, 2, "save"};
    if (!lua_istable(L, 3))
        vl_arg_error(&o, NULL, "table of options expected, got %s", luaL_typename(L, 3));
    vl_check_keys(&o, keys);
    vksac_save_options opt = {.replay = vl_field_bool(&o, "replay", false)};
    opt.metadata = vl_field_string(&o, "metadata", NULL);
    if (opt.metadata) {
        size_t len = 0;
        lua_getfield(L, 3, "metadata");
        lua_tolstring(L, -1, &len);
        lua_pop(L, 1);
        if (strlen(opt.metadata) != len)
            vl_arg_error(&o, "metadata", "must not contain a NUL byte, found one at byte %d",
                         (int)strlen(opt.metadata));
    }
    return saved(L, s, vksac_agent_save_with(s->agent->h, path, &opt));
}

static int sac_export_policy(lua_State *L)
{
    vl_sac *s = check_sac(L, 1);
    const char *path = luaL_checkstring(L, 2);
    return saved(L, s, vksac_agent_export_policy(s->agent->h, path));
}

/* agent:metadata() → the caller's string of the checkpoint this agent was
 * loaded from, or nil when there is none. */
static int sac_metadata(lua_State *L)
{
    vl_sac *s = check_sac(L, 1);
    const char *m = vksac_agent_metadata(s->agent->h);
    if (*m)
        lua_pushstring(L, m);
    else
        lua_pushnil(L);
    return 1;
}

/* vksac.load(path) → SAC, or nil and the message. */
static int l_load(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    vl_ctx *c = vl_context(L);
    vl_sac *s = push_sac(L);
    vksac_agent *h = NULL;
    if (vksac_agent_load(vl_ctx_handle(c), path, &h) != VKSAC_OK) {
        luaL_pushfail(L);
        lua_pushstring(L, vksac_error(vl_ctx_handle(c)));
        return 2;
    }
    s->agent = vl_agent_wrap(L, c, h, "load");
    vksac_agent_config cfg;
    vksac_agent_config_get(h, &cfg);
    keep_resolved(s, &cfg);
    lua_createtable(L, 0, 2);
    vl_push_bound(L, VL_ACTOR, &s->cfg, s->agent, 0);
    lua_setfield(L, -2, "actor");
    lua_createtable(L, (int)cfg.num_critics, 0);
    for (uint32_t i = 0; i < cfg.num_critics; i++) {
        vl_push_bound(L, VL_CRITIC, &s->cfg, s->agent, i);
        lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, -2, "critics");
    lua_setiuservalue(L, -2, 1);
    return 1;
}

/* ---- the object ----------------------------------------------------------- */

static int sac_part(lua_State *L, const char *field)
{
    check_sac(L, 1);
    lua_getiuservalue(L, 1, 1);
    lua_getfield(L, -1, field);
    return 1;
}

/* agent:actor() → the Actor (trained with the agent). */
static int sac_actor(lua_State *L) { return sac_part(L, "actor"); }

/* agent:critics() → a new list of the Critic objects. */
static int sac_critics(lua_State *L)
{
    sac_part(L, "critics");
    lua_Integer n = luaL_len(L, -1);
    lua_createtable(L, (int)n, 0);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, -2, i);
        lua_rawseti(L, -2, i);
    }
    return 1;
}

/* t[prefix .. key] = value on top (popped); t is below the value. */
static void set_prefixed(lua_State *L, const char *prefix, const char *key)
{
    lua_pushfstring(L, "%s%s", prefix, key);
    lua_insert(L, -2);
    lua_settable(L, -3);
}

static void set_net(lua_State *L, const char *prefix, const vksac_net_config *n)
{
    struct { const char *k; double v; } num[] = {
        {"dim_hidden", n->dim_hidden},        {"mlp_depth", n->mlp_depth},         {"expansion", n->expansion},
        {"dropout", n->dropout},              {"learning_rate", n->learning_rate}, {"weight_decay", n->weight_decay},
        {"max_grad_norm", n->max_grad_norm}, {"regen_reg_rate", n->regen_reg_rate},
    };
    for (size_t i = 0; i < sizeof num / sizeof *num; i++) {
        lua_pushnumber(L, num[i].v);
        set_prefixed(L, prefix, num[i].k);
    }
    struct { const char *k; const char *v; } str[] = {
        {"activation", n->activation}, {"optimizer", n->optimizer}, {"regen", n->regen}};
    for (size_t i = 0; i < sizeof str / sizeof *str; i++) {
        lua_pushstring(L, str[i].v);
        set_prefixed(L, prefix, str[i].k);
    }
    lua_pushboolean(L, n->final_norm);
    set_prefixed(L, prefix, "final_norm");
}

static void set_list(lua_State *L, const char *key, const float *x, uint32_t n)
{
    lua_createtable(L, (int)n, 0);
    for (uint32_t i = 0; i < n; i++) {
        lua_pushnumber(L, x[i]);
        lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, -2, key);
}

/* agent:config() → every option with its resolved value. */
static int sac_config(lua_State *L)
{
    const vksac_agent_config *c = &check_sac(L, 1)->cfg;
    lua_createtable(L, 0, 48);
    struct { const char *k; double v; } num[] = {
        {"dim_state", c->dim_state}, {"num_cont_actions", c->num_cont_actions}, {"num_critics", c->num_critics},
        {"num_quantiles", c->num_quantiles}, {"frac_atom_keep", c->frac_atom_keep},
        {"softmin_temperature", c->softmin_temperature}, {"reward_discount_rate", c->reward_discount_rate},
        {"reward_scale", c->reward_scale}, {"ema_decay", c->ema_decay},
        {"temperature_learning_rate", c->temperature_learning_rate}, {"initial_log_alpha", c->initial_log_alpha},
        {"target_entropy", c->target_entropy_cont}, {"gumbel_temperature", c->gumbel_temperature},
        {"batch_size", c->batch_size}, {"replay_capacity", c->replay_capacity},
        {"updates_per_step", c->updates_per_step}, {"actor_update_every", c->actor_update_every},
    };
    for (size_t i = 0; i < sizeof num / sizeof *num; i++) {
        if (num[i].v == (lua_Integer)num[i].v)
            lua_pushinteger(L, (lua_Integer)num[i].v);
        else
            lua_pushnumber(L, num[i].v);
        lua_setfield(L, -2, num[i].k);
    }
    lua_pushinteger(L, (lua_Integer)c->seed);
    lua_setfield(L, -2, "seed");
    lua_pushboolean(L, c->quantiled_critics);
    lua_setfield(L, -2, "quantiled_critics");
    lua_pushboolean(L, c->use_softmin);
    lua_setfield(L, -2, "use_softmin");
    lua_pushboolean(L, !c->no_rsmnorm);
    lua_setfield(L, -2, "rsmnorm");
    lua_pushstring(L, c->sigma);
    lua_setfield(L, -2, "sigma");
    lua_createtable(L, (int)c->num_discrete_heads, 0);
    for (uint32_t i = 0; i < c->num_discrete_heads; i++) {
        lua_pushinteger(L, c->num_discrete_actions[i]);
        lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, -2, "num_discrete_actions");
    set_list(L, "target_entropy_discrete", c->target_entropy_discrete, c->num_discrete_heads);
    set_list(L, "action_low", c->action_low, c->num_cont_actions);
    set_list(L, "action_high", c->action_high, c->num_cont_actions);
    set_net(L, "actor_", &c->actor);
    set_net(L, "critic_", &c->critic);
    return 1;
}

static int sac_close(lua_State *L)
{
    vl_sac *s = luaL_checkudata(L, 1, VL_SAC);
    if (!s->closed) {
        vl_agent_release(s->agent);
        s->agent = NULL;
        s->closed = true;
    }
    return 0;
}

static int sac_tostring(lua_State *L)
{
    vl_sac *s = luaL_checkudata(L, 1, VL_SAC);
    if (s->closed) {
        lua_pushliteral(L, "SAC (closed)");
        return 1;
    }
    vksac_stats st = {0};
    vksac_agent_stats(s->agent->h, &st);
    lua_pushfstring(L, "SAC(dim_state=%d, num_cont_actions=%d, discrete heads=%d, critics=%d%s, updates=%I)",
                    (int)s->cfg.dim_state, (int)s->cfg.num_cont_actions, (int)s->cfg.num_discrete_heads,
                    (int)s->cfg.num_critics, s->cfg.quantiled_critics ? " quantiled" : "",
                    (lua_Integer)st.updates);
    return 1;
}

void vl_open_sac(lua_State *L)
{
    static const luaL_Reg meta[] = {{"__call", sac_call}, {"__gc", sac_close}, {"__close", sac_close},
                                    {"__tostring", sac_tostring}, {NULL, NULL}};
    static const luaL_Reg methods[] = {
        {"act", sac_act},         {"observe", sac_observe}, {"update", sac_update},
        {"stats", sac_stats},     {"q", sac_q},             {"save", sac_save},
        {"export_policy", sac_export_policy},               {"actor", sac_actor},
        {"critics", sac_critics}, {"config", sac_config},   {"close", sac_close},
        {"metadata", sac_metadata},                         {NULL, NULL}};
    static const luaL_Reg fns[] = {{"SAC", l_sac_new}, {"load", l_load}, {NULL, NULL}};
    vl_new_class(L, VL_SAC, methods, meta);
    luaL_setfuncs(L, fns, 0);
}
