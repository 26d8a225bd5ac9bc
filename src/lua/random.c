/* Random numbers of a Lua state: rand and randn draw from xoshiro256**
 * seeded through splitmix64 (one generator per state, in the registry),
 * and networks built without a seed take the next value of a counter that
 * manual_seed restarts too, so a script builds the same networks and draws
 * the same numbers on every run and platform. */
#include <math.h>

#include "vl.h"

typedef struct rng {
    uint64_t s[4];
} rng;

static const char RNG_KEY[] = "vksac.rng";
static const char NET_SEED_KEY[] = "vksac.net_seed";

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static void seed_rng(rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t next_u64(rng *r)
{
    uint64_t *s = r->s, out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return out;
}

static double uniform(rng *r) { return (double)(next_u64(r) >> 11) * 0x1p-53; }

static rng *state_rng(lua_State *L)
{
    if (lua_getfield(L, LUA_REGISTRYINDEX, RNG_KEY) != LUA_TUSERDATA) {
        lua_pop(L, 1);
        seed_rng(lua_newuserdatauv(L, sizeof(rng), 0), 0);
        lua_pushvalue(L, -1);
        lua_setfield(L, LUA_REGISTRYINDEX, RNG_KEY);
    }
    rng *r = lua_touserdata(L, -1);   /* the registry keeps it alive */
    lua_pop(L, 1);
    return r;
}

static int l_manual_seed(lua_State *L)
{
    int isint = 0;
    lua_Integer seed = lua_tointegerx(L, 1, &isint);
    if (lua_type(L, 1) != LUA_TNUMBER || !isint)
        vl_arg_error(&(vl_args){L, 1, 1, "manual_seed"}, NULL, "seed must be an integer, got %s",
                     lua_type(L, 1) == LUA_TNUMBER ? luaL_tolstring(L, 1, NULL) : luaL_typename(L, 1));
    seed_rng(state_rng(L), (uint64_t)seed);
    lua_pushinteger(L, seed);
    lua_setfield(L, LUA_REGISTRYINDEX, NET_SEED_KEY);
    return 0;
}

static int l_rand(lua_State *L)
{
    vl_tensor *t = vl_shaped(L, "rand", true);
    rng *r = state_rng(L);
    for (size_t i = 0; i < t->numel; i++)
        ((float *)t->data)[i] = (float)(next_u64(r) >> 40) * 0x1p-24f;   /* exact, in [0, 1) */
    return 1;
}

/* Box-Muller, both values of each pair used. */
static int l_randn(lua_State *L)
{
    vl_tensor *t = vl_shaped(L, "randn", true);
    rng *r = state_rng(L);
    float *out = t->data;
    for (size_t i = 0; i < t->numel; i += 2) {
        double radius = sqrt(-2.0 * log(1.0 - uniform(r)));   /* 1 - u is in (0, 1] */
        double angle = 6.283185307179586 * uniform(r);
        out[i] = (float)(radius * cos(angle));
        if (i + 1 < t->numel)
            out[i + 1] = (float)(radius * sin(angle));
    }
    return 1;
}

uint64_t vl_next_seed(lua_State *L)
{
    lua_getfield(L, LUA_REGISTRYINDEX, NET_SEED_KEY);
    uint64_t n = (uint64_t)lua_tointeger(L, -1);
    lua_pop(L, 1);
    lua_pushinteger(L, (lua_Integer)(n + 1));
    lua_setfield(L, LUA_REGISTRYINDEX, NET_SEED_KEY);
    uint64_t s = splitmix64(&n);
    return s ? s : 1;   /* 0 means "derive" in the C API */
}

void vl_open_random(lua_State *L)
{
    static const luaL_Reg fns[] = {{"rand", l_rand}, {"randn", l_randn}, {"manual_seed", l_manual_seed}, {NULL, NULL}};
    luaL_setfuncs(L, fns, 0);
}
