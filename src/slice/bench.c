/* placeholder until bench is written */
#include "sc.h"
int sc_cmd_bench(int argc, char **argv) { return 2; }
