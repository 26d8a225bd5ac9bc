/* The vksac command: the stock `lua` interpreter's command line with the
 * vksac module built in, plus the device utilities (--list-devices,
 * --device, --gemm). The host owns the lua_State; everything runs inside
 * one protected call so even a memory error while setting up is reported
 * rather than aborting. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lualib.h>

#include "cli/cli.h"
#include "vksac.h"

#define INIT_VAR "LUA_INIT"
#define INIT_VAR_VERSIONED INIT_VAR "_" LUA_VERSION_MAJOR "_" LUA_VERSION_MINOR

/* What the command line asks for. Options that run something (-e, -l, -W,
 * --list-devices, --gemm) are run in order by run_options, after LUA_INIT. */
typedef struct options {
    int script;              /* argv index of the script ("-": stdin), 0 when none */
    bool interactive;        /* -i */
    bool version;            /* -v (and -i) */
    bool noenv;              /* -E */
    bool action;             /* -e, --list-devices or --gemm: no REPL afterwards */
    bool help;
    const char *device;      /* --device */
} options;

static void usage(FILE *f)
{
    fputs("usage: " CLI_NAME " [options] [script [args]]\n"
          "Available options are:\n"
          "  -e stat   execute string 'stat'\n"
          "  -i        enter interactive mode after executing 'script'\n"
          "  -l mod    require library 'mod' into global 'mod'\n"
          "  -l g=mod  require library 'mod' into global 'g'\n"
          "  -v        show version information\n"
          "  -E        ignore environment variables (LUA_INIT, LUA_PATH, LUA_CPATH,\n"
          "            VKSAC_LUA_DIR)\n"
          "  -W        turn warnings on\n"
          "  --        stop handling options\n"
          "  -         stop handling options and execute stdin\n"
          "  --list-devices  list the Vulkan devices with type, driver and limits\n"
          "  --device X      use device X (index or name substring; sets VKSAC_DEVICE)\n"
          "  --gemm MxKxN    run Y = X·Wᵀ (X M×K, W N×K) on the device, check it, time it\n"
          "  --help          show this help\n"
          "The module `vksac` is built in: local vksac = require \"vksac\".\n",
          f);
}

static void print_version(void)
{
    printf(CLI_NAME " %d.%d.%d, %s\n", VKSAC_VERSION_MAJOR, VKSAC_VERSION_MINOR, VKSAC_VERSION_PATCH,
           LUA_COPYRIGHT);
    fflush(stdout);
}

/* Long options: the device utilities. Returns the number of arguments
 * used (1 or 2), 0 when `a` is not one of them, -1 when it lacks its
 * value (reported). */
static int long_option(options *o, char **argv, int i)
{
    const char *a = argv[i];
    if (!strcmp(a, "--help") || !strcmp(a, "--list-devices")) {
        o->help |= a[2] == 'h';
        o->action = true;
        return 1;
    }
    if (!strcmp(a, "--gemm") || !strcmp(a, "--device")) {
        if (!argv[i + 1]) {
            fprintf(stderr, CLI_NAME ": '%s' needs argument\n", a);
            return -1;
        }
        if (a[2] == 'd')
            o->device = argv[i + 1];
        else
            o->action = true;
        return 2;
    }
    return 0;
}

/* One short option at argv[i]; returns the arguments used, 0 when it is
 * unknown, -1 when it lacks its value (reported). */
static int short_option(options *o, char **argv, int i)
{
    const char *a = argv[i];
    bool alone = a[2] == '\0';
    switch (a[1]) {
    case 'E': o->noenv = true; return alone;
    case 'W': return alone;
    case 'i': o->interactive = o->version = true; return alone;   /* -i implies -v */
    case 'v': o->version = true; return alone;
    case 'e':
    case 'l':
        o->action |= a[1] == 'e';
        if (!alone)
            return 1;   /* -estat, -lmod */
        if (!argv[i + 1] || argv[i + 1][0] == '-') {
            fprintf(stderr, CLI_NAME ": '%s' needs argument\n", a);
            return -1;
        }
        return 2;
    default: return 0;
    }
}

/* Finds the script and the flags; false on a bad command line. */
static bool parse(options *o, char **argv)
{
    int i = 1;
    for (; argv[i]; i++) {
        const char *a = argv[i];
        if (a[0] != '-' || !strcmp(a, "-"))
            break;
        if (!strcmp(a, "--")) {
            i++;
            break;
        }
        int used = a[1] == '-' ? long_option(o, argv, i) : short_option(o, argv, i);
        if (used <= 0) {
            if (used == 0)
                fprintf(stderr, CLI_NAME ": unrecognized option '%s'\n", a);
            return false;
        }
        i += used - 1;
    }
    o->script = argv[i] ? i : 0;
    return true;
}

/* arg[0] is the script (the program when there is none), arg[1..] what
 * follows it, arg[-1..] the options and the program before it. */
static void push_arg_table(lua_State *L, char **argv, int argc, int script)
{
    lua_createtable(L, argc - script, script + 1);
    for (int i = 0; i < argc; i++) {
        lua_pushstring(L, argv[i]);
        lua_rawseti(L, -2, i - script);
    }
    lua_setglobal(L, "arg");
}

/* LUA_INIT_5_4, else LUA_INIT: "@file" runs a file, anything else code. */
static int run_init(lua_State *L)
{
    const char *name = "=" INIT_VAR_VERSIONED;
    const char *init = getenv(name + 1);
    if (!init) {
        name = "=" INIT_VAR;
        init = getenv(name + 1);
    }
    if (!init)
        return LUA_OK;
    return init[0] == '@' ? cli_dofile(L, init + 1) : cli_dostring(L, init, name);
}

/* Runs the options that do something, in command-line order; returns the
 * exit status (0 when all went well, 2 for a bad --gemm shape). */
static int run_options(lua_State *L, char **argv, int end)
{
    for (int i = 1; i < end; i++) {
        const char *a = argv[i];
        int rc = 0;
        if (!strcmp(a, "--list-devices")) {
            rc = cli_list_devices();
        } else if (!strcmp(a, "--gemm")) {
            rc = cli_gemm(argv[++i]);
        } else if (!strcmp(a, "--device")) {
            i++;
        } else if (a[1] == 'e' || a[1] == 'l') {
            const char *value = a[2] ? a + 2 : argv[++i];
            int status = a[1] == 'e' ? cli_dostring(L, value, "=(command line)") : cli_dolibrary(L, value);
            rc = status != LUA_OK;
        } else if (a[1] == 'W') {
            lua_warning(L, "@on", 0);
        }
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* The script with arg[1..] as its `...`; "-" (not after "--") is stdin. */
static int run_script(lua_State *L, char **argv, int argc, int script)
{
    const char *path = argv[script];
    if (!strcmp(path, "-") && strcmp(argv[script - 1], "--") != 0)
        path = NULL;
    int status = luaL_loadfile(L, path);
    if (status == LUA_OK) {
        int n = argc - script - 1;
        luaL_checkstack(L, n + 1, "too many arguments to script");
        for (int i = script + 1; i < argc; i++)
            lua_pushstring(L, argv[i]);
        status = cli_docall(L, n, 0);
    }
    return cli_report(L, status);
}

/* The session after the options: script, then REPL or stdin. */
static int run_main(lua_State *L, const options *o, char **argv, int argc)
{
    if (o->script && run_script(L, argv, argc, o->script) != LUA_OK)
        return 1;
    if (o->interactive) {
        cli_repl(L);
    } else if (!o->script && !o->action && !o->version) {
        if (isatty(STDIN_FILENO)) {
            print_version();
            cli_repl(L);
        } else if (cli_dofile(L, NULL) != LUA_OK) {
            return 1;
        }
    }
    return 0;
}

static int pmain(lua_State *L)
{
    int argc = (int)lua_tointeger(L, 1);
    char **argv = lua_touserdata(L, 2);
    options o = {0};
    if (!parse(&o, argv) || o.help) {
        usage(o.help ? stdout : stderr);
        lua_pushinteger(L, o.help ? 0 : 1);
        return 1;
    }
    if (o.device && setenv("VKSAC_DEVICE", o.device, 1) != 0)
        return luaL_error(L, "cannot set VKSAC_DEVICE");
    if (o.version)
        print_version();
    if (o.noenv) {   /* the package library then ignores LUA_PATH and LUA_CPATH */
        lua_pushboolean(L, 1);
        lua_setfield(L, LUA_REGISTRYINDEX, "LUA_NOENV");
    }
    luaL_openlibs(L);
    cli_open_vksac(L, !o.noenv);
    push_arg_table(L, argv, argc, o.script);
    lua_gc(L, LUA_GCGEN, 0, 0);   /* the stock interpreter's choice */
    int rc = !o.noenv && run_init(L) != LUA_OK;
    if (rc == 0)
        rc = run_options(L, argv, o.script ? o.script : argc);
    if (rc == 0)
        rc = run_main(L, &o, argv, argc);
    lua_pushinteger(L, rc);
    return 1;
}

int main(int argc, char **argv)
{
    lua_State *L = luaL_newstate();
    if (!L) {
        cli_message("cannot create the Lua state: not enough memory");
        return EXIT_FAILURE;
    }
    lua_pushcfunction(L, pmain);
    lua_pushinteger(L, argc);
    lua_pushlightuserdata(L, argv);
    int status = lua_pcall(L, 2, 1, 0);
    int rc = status == LUA_OK ? (int)lua_tointeger(L, -1) : 1;
    cli_report(L, status);
    lua_close(L);
    return rc;
}
