/* main.c - the lancefs command line; see cli.c. */
#include "cli.h"

int main(int argc, char **argv)
{
	return lancefs_cli(argc, argv);
}
