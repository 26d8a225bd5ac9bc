#include "vl.h"
void vl_open_sac(lua_State *L) { (void)L; }
