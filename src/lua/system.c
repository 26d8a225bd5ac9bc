/* What a training loop needs from the process: a monotonic clock, whether
 * an output is a terminal, and Ctrl-C as a flag polled between steps.
 *
 * Ctrl-C is caught only while a loop asks for it (vksac.catch_interrupt):
 * the first press sets a flag that the loop reads at a step boundary, where
 * everything is consistent enough to checkpoint; it also puts back the
 * handler that was there before, so a second press does what it did before
 * (the interpreter's "interrupted!" error, or the default: exit). */
#include <signal.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "vl.h"

static volatile sig_atomic_t interrupted;
static struct sigaction previous;
static bool catching;

static void on_interrupt(int sig)
{
    interrupted = 1;
    sigaction(sig, &previous, NULL);
}

/* vksac.clock() → seconds on a monotonic clock (os.clock is CPU time). */
static int l_clock(lua_State *L)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec * 1e-9);
    return 1;
}

/* vksac.isatty(file) → true when the Lua file (io.stdout, …) is a terminal. */
static int l_isatty(lua_State *L)
{
    luaL_Stream *s = luaL_checkudata(L, 1, LUA_FILEHANDLE);
    luaL_argcheck(L, s->closef != NULL, 1, "attempt to use a closed file");
    lua_pushboolean(L, isatty(fileno(s->f)));
    return 1;
}

/* vksac.catch_interrupt(on): on = true starts catching Ctrl-C (and clears
 * the flag), false restores the handler that was there before. */
static int l_catch_interrupt(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TBOOLEAN);
    bool on = lua_toboolean(L, 1);
    if (on && !catching) {
        struct sigaction sa = {.sa_handler = on_interrupt};
        sigemptyset(&sa.sa_mask);
        interrupted = 0;
        if (sigaction(SIGINT, &sa, &previous) != 0)
            return luaL_error(L, "cannot catch Ctrl-C (sigaction failed)");
        catching = true;
    } else if (!on && catching) {
        if (!interrupted)   /* after a press the handler is already back */
            sigaction(SIGINT, &previous, NULL);
        catching = false;
    }
    return 0;
}

/* vksac.interrupted() → true once Ctrl-C was pressed while catching. */
static int l_interrupted(lua_State *L)
{
    lua_pushboolean(L, interrupted);
    return 1;
}

void vl_open_system(lua_State *L)
{
    static const luaL_Reg fns[] = {
        {"clock", l_clock},
        {"isatty", l_isatty},
        {"catch_interrupt", l_catch_interrupt},
        {"interrupted", l_interrupted},
        {NULL, NULL},
    };
    luaL_setfuncs(L, fns, 0);
}
