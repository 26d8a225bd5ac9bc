/*
 * The vksac interpreter: a Lua 5.4 host with the vksac module built in.
 * What its files share: main.c parses the command line like the stock
 * `lua`, exec.c runs chunks (tracebacks, Ctrl-C), repl.c is the
 * interactive loop, embed.c makes `require "vksac"` work without an
 * installation, devices.c holds the device utilities (--list-devices,
 * --gemm).
 */
#ifndef VKSAC_CLI_H
#define VKSAC_CLI_H

#include <stdbool.h>
#include <stddef.h>

#include <lauxlib.h>
#include <lua.h>

#define CLI_NAME "vksac"

/* ---- embed.c --------------------------------------------------------------
 * One pure-Lua module compiled into the executable (the table is generated
 * by cmake/embed_lua.cmake and ends with a zeroed entry). */
typedef struct cli_lua_file {
    const char *module;      /* "vksac", "vksac.envs.pendulum", ... */
    const char *chunkname;   /* "@lua/vksac/init.lua": tracebacks name the file */
    const char *source;
    size_t size;
} cli_lua_file;
extern const cli_lua_file cli_lua_files[];

/* Puts `vksac.core` and the embedded modules into package.preload. With
 * `use_env` and VKSAC_LUA_DIR set, the Lua modules come from that
 * directory instead (prepended to package.path). Needs the package
 * library; raises on memory errors. */
void cli_open_vksac(lua_State *L, bool use_env);

/* ---- exec.c ---------------------------------------------------------------- */
/* Calls the function below `narg` arguments with a traceback handler and
 * Ctrl-C turned into an "interrupted!" error; returns the lua_pcall status
 * and leaves the results (LUA_MULTRET) or the message. */
int cli_docall(lua_State *L, int narg, int nres);
/* Prints the message on top of the stack as "vksac: msg" to stderr when
 * status is not LUA_OK and pops it; returns status. */
int cli_report(lua_State *L, int status);
/* Loads and runs a file (NULL: stdin), a string or `require`s a module into
 * a global; each reports its own errors and returns the status. */
int cli_dofile(lua_State *L, const char *path);
int cli_dostring(lua_State *L, const char *code, const char *chunkname);
int cli_dolibrary(lua_State *L, const char *spec);
/* Writes the message to stderr, prefixed with the program name. */
void cli_message(const char *msg);

/* ---- repl.c ---------------------------------------------------------------- */
/* Reads, evaluates and prints lines from stdin until end of input. */
void cli_repl(lua_State *L);

/* ---- devices.c ------------------------------------------------------------- */
/* Prints every Vulkan device with the limits vksac cares about; 0 or 1. */
int cli_list_devices(void);
/* Runs a checked, timed GEMM of the "MxKxN" shape on the default device
 * (VKSAC_DEVICE); 0 on success, 1 on a failure, 2 on a bad shape. */
int cli_gemm(const char *shape);

#endif
