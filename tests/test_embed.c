/* vksac embedded in a host program: the host creates and closes the
 * lua_State, opens `vksac.core` itself (as a game engine would), runs
 * chunks and reads their results through the Lua C API. Errors from bad
 * calls must come back to the host as Lua error strings, leave the state
 * usable, and lua_close with vksac objects still alive must be clean
 * (ASan build). Tensors made in Lua are read back from C. Run with
 * VKSAC_VALIDATION=1: every test ends by checking that the validation
 * layer said nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "vksac.h"

/* What vksac/core.so exports; a host linking the objects declares it. */
int luaopen_vksac_core(lua_State *L);

/* ---- host helpers ---------------------------------------------------------- */

/* A fresh state with the standard libraries, `vksac.core` opened into
 * package.loaded and the global `vksac`, and the repository's lua/ on
 * package.path so `require "vksac"` finds init.lua. */
static int setup(void **state)
{
    lua_State *L = luaL_newstate();
    if (!L)
        return -1;
    luaL_openlibs(L);
    luaL_requiref(L, "vksac.core", luaopen_vksac_core, 0);
    lua_setglobal(L, "vksac");
    lua_getglobal(L, "package");
    lua_pushstring(L, VKSAC_TEST_LUA_DIR "/?.lua;" VKSAC_TEST_LUA_DIR "/?/init.lua");
    lua_setfield(L, -2, "path");
    lua_pop(L, 1);
    *state = L;
    return 0;
}

/* Checks that the state is balanced and the validation layer was quiet,
 * then closes it with whatever vksac objects are still alive. */
static int teardown(void **state)
{
    lua_State *L = *state;
    int ok = lua_gettop(L) == 0;
    if (luaL_dostring(L, "return vksac.validation_messages()") != LUA_OK || !lua_isinteger(L, -1)) {
        print_error("validation_messages() failed: %s\n", lua_tostring(L, -1));
        ok = 0;
    } else if (lua_tointeger(L, -1) != 0) {
        print_error("the validation layer reported %lld message(s)\n", (long long)lua_tointeger(L, -1));
        ok = 0;
    }
    lua_close(L);
    return ok ? 0 : -1;
}

/* Runs `code`, which must succeed; its results stay on the stack. */
static void run(lua_State *L, const char *code)
{
    if (luaL_dostring(L, code) != LUA_OK)
        fail_msg("%s\n  failed: %s", code, lua_tostring(L, -1));
}

/* Runs `code`, which must fail with a string message containing `want`;
 * leaves the stack as it was. */
static void run_fails(lua_State *L, const char *code, const char *want)
{
    int top = lua_gettop(L);
    /* Not luaL_dostring, which folds the status into 0/1. */
    assert_int_equal(luaL_loadstring(L, code), LUA_OK);
    assert_int_equal(lua_pcall(L, 0, LUA_MULTRET, 0), LUA_ERRRUN);
    assert_int_equal(lua_type(L, -1), LUA_TSTRING);
    const char *msg = lua_tostring(L, -1);
    if (!strstr(msg, want))
        fail_msg("%s\n  error %s\n  does not contain %s", code, msg, want);
    lua_settop(L, top);
}

/* The string field `key` of the table at idx. */
static const char *string_field(lua_State *L, int idx, const char *key)
{
    assert_int_equal(lua_getfield(L, idx, key), LUA_TSTRING);
    const char *s = lua_tostring(L, -1);
    lua_pop(L, 1);   /* the table still holds the string */
    return s;
}

/* ---- tests -------------------------------------------------------------------- */

static void test_version(void **state)
{
    lua_State *L = *state;
    char want[32];
    snprintf(want, sizeof want, "%d.%d.%d", VKSAC_VERSION_MAJOR, VKSAC_VERSION_MINOR, VKSAC_VERSION_PATCH);
    run(L, "return vksac.version");
    assert_int_equal(lua_type(L, -1), LUA_TSTRING);
    assert_string_equal(lua_tostring(L, -1), want);
    /* init.lua builds the public module on the core the host opened. */
    run(L, "local v = require 'vksac'; return v.version, v.device == vksac.device");
    assert_string_equal(lua_tostring(L, -2), want);
    assert_true(lua_toboolean(L, -1));
    lua_pop(L, 3);
}

static void test_device(void **state)
{
    lua_State *L = *state;
    run(L, "return vksac.device()");
    assert_int_equal(lua_type(L, -1), LUA_TTABLE);
    assert_true(strlen(string_field(L, -1, "name")) > 0);
    string_field(L, -1, "type");
    string_field(L, -1, "driver");
    assert_int_equal(lua_getfield(L, -1, "index"), LUA_TNUMBER);
    assert_true(lua_isinteger(L, -1) && lua_tointeger(L, -1) >= 0);
    lua_pop(L, 2);

    run(L, "return vksac.devices()");
    assert_int_equal(lua_type(L, -1), LUA_TTABLE);
    lua_Integer n = luaL_len(L, -1);
    assert_true(n >= 1);
    for (lua_Integer i = 1; i <= n; i++) {
        assert_int_equal(lua_geti(L, -1, i), LUA_TTABLE);
        assert_true(strlen(string_field(L, -1, "name")) > 0);
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
}

/* Bad calls raise Lua errors the host receives as strings; the state, and
 * the context made by an earlier call, keep working afterwards. */
static void test_errors_reach_the_host(void **state)
{
    lua_State *L = *state;
    run_fails(L, "vksac.Actor{dim_state = -3}",
              "bad argument #1 to 'Actor' (field 'dim_state' must be a positive integer, got -3)");
    run_fails(L, "vksac.init(5)", "table expected");
    run_fails(L, "vksac.init{devcie = 'x'}", "devcie");
    run_fails(L, "vksac.init{cpu_threads = 1.5}", "cpu_threads");
    run(L, "return vksac.device().name");   /* creates the context */
    lua_pop(L, 1);
    run_fails(L, "vksac.init{validation = true}", "already in use");
    /* A host's own protected call sees the same message. */
    lua_getglobal(L, "vksac");
    lua_getfield(L, -1, "init");
    lua_pushinteger(L, 5);
    assert_int_equal(lua_pcall(L, 1, 0, 0), LUA_ERRRUN);
    assert_non_null(strstr(lua_tostring(L, -1), "bad argument #1"));
    lua_pop(L, 2);
    run(L, "return 6 * 7, vksac.device().name");
    assert_int_equal(lua_tointeger(L, -2), 42);
    lua_pop(L, 2);
    /* The driver's own version string, which benchmarks print with the name. */
    run(L, "local d = vksac.device(); return d.driver, d.driver_version");
    assert_int_equal(lua_type(L, -1), LUA_TSTRING);
    if (strcmp(lua_tostring(L, -2), "llvmpipe") == 0)
        assert_int_equal(strncmp(lua_tostring(L, -1), "Mesa ", 5), 0);
    lua_pop(L, 2);
    /* vksac.devices() describes the device in use the same way. */
    run(L, "local d = vksac.device(); local e = vksac.devices()[d.index + 1]\n"
           "return e.name == d.name and e.driver == d.driver and e.driver_version == d.driver_version\n"
           "  and type(e.preferred) == 'boolean'");
    assert_true(lua_toboolean(L, -1));
    lua_pop(L, 1);
}

/* init{} options are taken when the context is made. */
static void test_init_then_device(void **state)
{
    lua_State *L = *state;
    run(L, "vksac.init{device = '0', cpu_threads = -1}; return vksac.device().index");
    assert_int_equal(lua_tointeger(L, -1), 0);
    lua_pop(L, 1);
}

/* A device that does not exist fails when the context is made, as an
 * error string, and nothing is left half-made. */
static void test_missing_device(void **state)
{
    lua_State *L = *state;
    run(L, "vksac.init{device = 'no such device anywhere'}");
    run_fails(L, "return vksac.device()", "no context");
}

/* The metatable __name of the value on top of the stack ("" if none). */
static const char *type_name(lua_State *L)
{
    int type = luaL_getmetafield(L, -1, "__name");   /* pushes nothing when absent */
    const char *name = type == LUA_TSTRING ? lua_tostring(L, -1) : "";
    if (type != LUA_TNIL)
        lua_pop(L, 1);   /* the metatable keeps the string alive */
    return name;
}

/* The host closes the state while vksac objects are still referenced from
 * globals (an Actor bound to a SAC, a lone Critic that made its own agent
 * on first use, device tables): their finalisers run inside lua_close, in
 * whatever order Lua picks, and must leave nothing behind (ASan build). */
static void test_close_with_live_objects(void **state)
{
    lua_State *L = *state;
    run(L, "small = {dim_state = 3, num_cont_actions = 1, dim_hidden = 16, mlp_depth = 1}\n"
           "actor = vksac.Actor(small)\n"
           "agent = vksac.SAC{actor = actor, batch_size = 4, replay_capacity = 64}\n"
           "critic = vksac.Critic(small)\n"
           "closed = vksac.Actor(small); closed:close()\n"
           "dev, list = vksac.device(), vksac.devices()\n"
           "return agent, actor");
    assert_string_equal(type_name(L), "vksac.Actor");
    lua_pop(L, 1);
    assert_string_equal(type_name(L), "vksac.SAC");
    lua_pop(L, 1);
    run_fails(L, "closed:close(); return closed({0, 0, 0})", "attempt to use a closed Actor");
    /* Tensors alive at close too. */
    run(L, "t1, t2 = vksac.zeros{4, 3}, vksac.tensor{1, 2, 3}");
}

/* obj:name() for the object on top of the stack; pushes its first result. */
static void call_method(lua_State *L, const char *name)
{
    lua_getfield(L, -1, name);
    lua_pushvalue(L, -2);
    if (lua_pcall(L, 1, 1, 0) != LUA_OK)
        fail_msg("%s(): %s", name, lua_tostring(L, -1));
}

/* Element [i][j] (1-based) of the nested table on top of the stack. */
static double element(lua_State *L, lua_Integer i, lua_Integer j)
{
    assert_int_equal(lua_geti(L, -1, i), LUA_TTABLE);
    assert_int_equal(lua_geti(L, -1, j), LUA_TNUMBER);
    double v = lua_tonumber(L, -1);
    lua_pop(L, 2);
    return v;
}

/* The shape of the tensor on top of the stack as "2x3" into buf. */
static const char *shape_of(lua_State *L, char *buf, size_t size)
{
    call_method(L, "shape");
    assert_int_equal(lua_type(L, -1), LUA_TTABLE);
    buf[0] = '\0';
    for (lua_Integer d = 1, n = luaL_len(L, -1); d <= n; d++) {
        lua_geti(L, -1, d);
        size_t len = strlen(buf);
        snprintf(buf + len, size - len, "%s%lld", d > 1 ? "x" : "", (long long)lua_tointeger(L, -1));
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    return buf;
}

/* A tensor made in Lua, and an actor's output, read by the host through
 * the Lua API (shape() and totable()). */
static void test_tensors_read_from_c(void **state)
{
    lua_State *L = *state;
    char shape[64];
    run(L, "return vksac.tensor{{1, 2, 3}, {4, 5, 6.5}}");
    assert_non_null(luaL_testudata(L, -1, "vksac.Tensor"));
    assert_string_equal(shape_of(L, shape, sizeof shape), "2x3");
    call_method(L, "totable");
    assert_true(element(L, 1, 1) == 1.0);
    assert_true(element(L, 2, 3) == 6.5);
    lua_pop(L, 2);

    run(L, "local actor = vksac.Actor{dim_state = 3, num_cont_actions = 2, dim_hidden = 16, mlp_depth = 1}\n"
           "return (actor{{0.1, 0.2, 0.3}, {0, 0, 0}, {-1, 1, 0.5}})   -- the continuous actions");
    assert_non_null(luaL_testudata(L, -1, "vksac.Tensor"));
    assert_string_equal(shape_of(L, shape, sizeof shape), "3x2");
    call_method(L, "totable");
    for (lua_Integer i = 1; i <= 3; i++)
        for (lua_Integer j = 1; j <= 2; j++) {
            double a = element(L, i, j);
            assert_true(a >= -1.0 && a <= 1.0);   /* within the default bounds */
        }
    lua_pop(L, 2);
    /* A bad tensor comes back as an error string; the state goes on. */
    run_fails(L, "return vksac.tensor{{1}, {2, 3}}", "bad argument #1 to 'tensor'");
    run(L, "return vksac.ones{2}:totable()[2]");
    assert_true(lua_tonumber(L, -1) == 1.0);
    lua_pop(L, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_version, setup, teardown),
        cmocka_unit_test_setup_teardown(test_device, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors_reach_the_host, setup, teardown),
        cmocka_unit_test_setup_teardown(test_init_then_device, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_device, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_with_live_objects, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tensors_read_from_c, setup, teardown),
    };
    return cmocka_run_group_tests_name("embed", tests, NULL, NULL);
}
