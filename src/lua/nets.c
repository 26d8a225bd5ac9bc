#include "vl.h"
void vl_open_nets(lua_State *L) { (void)L; }
