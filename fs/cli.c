/* cli.c - lancefs subcommands. */
#include <stdio.h>

#include "cli.h"

int lancefs_cli(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "lancefs: not yet\n");
	return 1;
}
