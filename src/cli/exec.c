/* Running chunks: every call goes through a message handler that adds a
 * traceback, and Ctrl-C while Lua code runs becomes an "interrupted!" error
 * in that code rather than killing the process, so the REPL survives it and
 * a script's pcall/close handlers still run. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

/* The state a Ctrl-C stops. Set before the handler is installed; the
 * handler only reads it. */
static lua_State *volatile running;

void cli_message(const char *msg)
{
    fprintf(stderr, CLI_NAME ": %s\n", msg);
    fflush(stderr);
}

/* Raises the error from inside the running Lua code: a signal handler may
 * not longjmp through Lua, but it may set a hook (lua_sethook is
 * async-signal-safe by design), and the hook runs at the next call,
 * return, line or instruction of the interrupted code. */
static void stop_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    lua_sethook(L, NULL, 0, 0);
    luaL_error(L, "interrupted!");
}

static void on_sigint(int sig)
{
    /* A second Ctrl-C before the hook runs (a long C call) kills the
     * process the ordinary way. */
    signal(sig, SIG_DFL);
    lua_sethook(running, stop_hook, LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
}

/* Adds a traceback to string messages; other error objects are shown by
 * their __tostring, or named by type. */
static int message_handler(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);
    if (!msg) {
        if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
            return 1;
        msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    }
    luaL_traceback(L, L, msg, 1);
    return 1;
}

int cli_docall(lua_State *L, int narg, int nres)
{
    int base = lua_gettop(L) - narg;   /* the function's slot */
    lua_pushcfunction(L, message_handler);
    lua_insert(L, base);
    running = L;
    struct sigaction on = {.sa_handler = on_sigint}, old;
    sigemptyset(&on.sa_mask);
    sigaction(SIGINT, &on, &old);
    int status = lua_pcall(L, narg, nres, base);
    sigaction(SIGINT, &old, NULL);
    lua_remove(L, base);
    return status;
}

int cli_report(lua_State *L, int status)
{
    if (status != LUA_OK) {
        const char *msg = lua_tostring(L, -1);
        cli_message(msg ? msg : "(error object is not a string)");
        lua_pop(L, 1);
    }
    return status;
}

static int run_loaded(lua_State *L, int status)
{
    if (status == LUA_OK)
        status = cli_docall(L, 0, 0);
    return cli_report(L, status);
}

int cli_dofile(lua_State *L, const char *path)
{
    return run_loaded(L, luaL_loadfile(L, path));
}

int cli_dostring(lua_State *L, const char *code, const char *chunkname)
{
    return run_loaded(L, luaL_loadbuffer(L, code, strlen(code), chunkname));
}

/* "-l mod" sets global `mod` (up to a '-': "-l vksac-dev" sets `vksac`),
 * "-l g=mod" sets global `g`, to require(mod), as lua 5.4 does. */
int cli_dolibrary(lua_State *L, const char *spec)
{
    const char *eq = strchr(spec, '=');
    const char *module = eq ? eq + 1 : spec;
    size_t name_len = eq ? (size_t)(eq - spec) : strcspn(spec, "-");
    lua_getglobal(L, "require");
    lua_pushstring(L, module);
    int status = cli_docall(L, 1, 1);
    if (status == LUA_OK) {
        lua_pushlstring(L, spec, name_len);
        lua_insert(L, -2);
        lua_setglobal(L, lua_tostring(L, -2));
        lua_pop(L, 1);
    }
    return cli_report(L, status);
}
