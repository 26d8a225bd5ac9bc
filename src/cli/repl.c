/* The interactive loop: read a line, evaluate it, print what it returned.
 * A line is first tried as an expression ("return <line>") so `1 + 1` and
 * `vksac.device()` show their values; otherwise it is a statement, read
 * over several lines while the parser stops at the end of the input. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"

#ifdef VKSAC_HAVE_READLINE
#include <readline/history.h>
#include <readline/readline.h>
#endif

#define PROMPT1 "> "
#define PROMPT2 ">> "
#define CHUNKNAME "=stdin"

/* _PROMPT / _PROMPT2 when set (any value, through tostring), else the
 * defaults; pushed on the stack so the string outlives the read. */
static const char *push_prompt(lua_State *L, bool first)
{
    if (lua_getglobal(L, first ? "_PROMPT" : "_PROMPT2") == LUA_TNIL) {
        lua_pop(L, 1);
        return lua_pushstring(L, first ? PROMPT1 : PROMPT2);
    }
    const char *p = luaL_tolstring(L, -1, NULL);
    lua_remove(L, -2);
    return p;
}

/* Line editing only on a terminal: piped input (`vksac -i < file`) is read
 * plainly, with the prompts still written, like a terminal session. */
static char *read_raw(const char *prompt)
{
#ifdef VKSAC_HAVE_READLINE
    if (isatty(STDIN_FILENO))
        return readline(prompt);
#endif
    fputs(prompt, stdout);
    fflush(stdout);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, stdin);
    if (n < 0) {
        free(line);
        return NULL;
    }
    if (n > 0 && line[n - 1] == '\n')
        line[n - 1] = '\0';
    return line;
}

/* Pushes the next line as a string; false (nothing pushed) at the end of
 * the input. */
static bool push_line(lua_State *L, bool first)
{
    const char *prompt = push_prompt(L, first);
    char *line = read_raw(prompt);
    lua_pop(L, 1);
    if (!line)
        return false;
    /* Lua 5.4's REPL still accepts "=expr" on a first line. */
    if (first && line[0] == '=')
        lua_pushfstring(L, "return %s", line + 1);
    else
        lua_pushstring(L, line);
    free(line);
    return true;
}

static void remember(const char *chunk)
{
#ifdef VKSAC_HAVE_READLINE
    if (*chunk && isatty(STDIN_FILENO))
        add_history(chunk);
#else
    (void)chunk;
#endif
}

/* The line on top as "return <line>;": replaces it by the function and
 * returns true when that compiles, else leaves the line alone. */
static bool load_expression(lua_State *L)
{
    const char *code = lua_pushfstring(L, "return %s;", lua_tostring(L, -1));
    if (luaL_loadbuffer(L, code, strlen(code), CHUNKNAME) != LUA_OK) {
        lua_pop(L, 2);   /* the message and the code */
        return false;
    }
    remember(lua_tostring(L, -3));
    lua_replace(L, -3);
    lua_pop(L, 1);
    return true;
}

/* A syntax error at "<eof>" means the chunk is not finished yet. */
static bool incomplete(lua_State *L, int status)
{
    static const char mark[] = "<eof>";
    if (status != LUA_ERRSYNTAX)
        return false;
    size_t len;
    const char *msg = lua_tolstring(L, -1, &len);
    return len >= sizeof mark - 1 && strcmp(msg + len - (sizeof mark - 1), mark) == 0;
}

/* The chunk on top as a statement, adding lines while it is incomplete.
 * Replaces the chunk by the function or the error message. */
static int load_statement(lua_State *L)
{
    for (;;) {
        size_t len;
        const char *code = lua_tolstring(L, -1, &len);
        int status = luaL_loadbuffer(L, code, len, CHUNKNAME);
        if (!incomplete(L, status) || !push_line(L, false)) {
            remember(lua_tostring(L, -2));
            lua_remove(L, -2);
            return status;
        }
        lua_remove(L, -2);   /* the message; the stack is: chunk, line */
        lua_pushliteral(L, "\n");
        lua_insert(L, -2);
        lua_concat(L, 3);
    }
}

/* Hands the values above `base` to the global print. */
static void print_results(lua_State *L, int base)
{
    int n = lua_gettop(L) - base;
    if (n <= 0)
        return;
    luaL_checkstack(L, LUA_MINSTACK, "too many results to print");
    lua_getglobal(L, "print");
    lua_insert(L, base + 1);
    if (lua_pcall(L, n, 0, 0) != LUA_OK)
        cli_message(lua_pushfstring(L, "error calling 'print' (%s)", lua_tostring(L, -1)));
}

void cli_repl(lua_State *L)
{
    int base = lua_gettop(L);
    while (push_line(L, true)) {
        int status = load_expression(L) ? LUA_OK : load_statement(L);
        if (status == LUA_OK)
            status = cli_docall(L, 0, LUA_MULTRET);
        if (status == LUA_OK)
            print_results(L, base);
        else
            cli_report(L, status);
        lua_settop(L, base);
    }
    lua_settop(L, base);
    fputs("\n", stdout);
    fflush(stdout);
}
