#include "cli/cli.h"

int main(int argc, char **argv)
{
    return trl_cli_main(argc, argv);
}
