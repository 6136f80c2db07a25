#include "cli/cli.h"

#include <stdio.h>

int trl_cmd_server(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "trapline server: starting\n");
    return 1;
}
