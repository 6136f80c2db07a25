#include "cli/cli.h"

#include <stdio.h>

int trl_cmd_ingest(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return 1;
}
