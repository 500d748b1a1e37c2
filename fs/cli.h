#ifndef LANCEFS_CLI_H
#define LANCEFS_CLI_H
int lancefs_cli(int argc, char **argv);
#endif
