/* The `selfsup` program: command dispatch and the helpers its commands share. Commands live in
 * cmd_<name>.c; the interface is DESIGN.md §5, documented for users in docs/cli.md. */
#define _POSIX_C_SOURCE 200809L

#include "cli/cli.h"
#include "selfsup/dist.h"

#include <stdarg.h>
#include <string.h>
#include <time.h>

int cli_fail(int code, const char *cmd, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	/* One line: a message that carries a newline (a YAML snippet) is cut there. */
	char *nl = strchr(msg, '\n');
	if (nl)
		*nl = 0;
	fprintf(stderr, "selfsup%s%s: %s\n", cmd ? " " : "", cmd ? cmd : "", msg);
	return code;
}

bool cli_is_help(const char *arg)
{
	return strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0 || strcmp(arg, "help") == 0;
}

double cli_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static const struct {
	const char *name;
	int (*fn)(int, char **);
	const char *summary;
} commands[] = {
    {"list", cli_cmd_list, "list the registered methods"},
    {"train", NULL, "train a method: selfsup train METHOD [CONFIG.yaml] [key=value ...] [--json]"},
    {"eval", cli_cmd_eval, "evaluate a checkpoint: selfsup eval PROTOCOL CHECKPOINT [key=value ...] [--json]"},
    {"embed", cli_cmd_embed, "write representations: selfsup embed CHECKPOINT data=... out=FILE.npy"},
    {"sample", cli_cmd_sample, "sample a generative model: selfsup sample CHECKPOINT [n=...] [out=...]"},
    {"data", cli_cmd_data, "data sets: selfsup data info|check|fetch NAME_OR_PATH"},
    {"demo", cli_cmd_demo, "supervised demo on Fashion-MNIST (linear and MLP classifiers)"},
};

static void usage(FILE *f)
{
	fprintf(f, "usage: selfsup COMMAND [ARGS]   (selfsup COMMAND --help for each)\n\ncommands:\n");
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		fprintf(f, "  %-7s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\nexit status: 0 success, 1 failure while running, 2 bad usage or input\n");
}

int main(int argc, char **argv)
{
	if (argc < 2 || cli_is_help(argv[1])) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? CLI_USAGE : CLI_OK;
	}
	if (strcmp(argv[1], "train") == 0) {
		/* `mpirun -np K selfsup train ...`: every process joins the group (docs/dist.md). */
		char err[512] = "";
		struct sup_dist *dist = NULL;
		if (sup_dist_open(&dist, &argc, &argv, err, sizeof err) != SUP_OK)
			return cli_fail(CLI_FAIL, "train", "%s", err);
		int code = cli_cmd_train(argc - 2, argv + 2, dist);
		const struct sup_comm *comm = sup_dist_comm(dist);
		if (code != CLI_OK && comm->size > 1) {
			/* The others may be waiting in a collective for this process: end the whole job
			 * now (MPI_Abort) rather than leave them to their timeout. */
			fprintf(stderr, "selfsup train: process %d of %d failed (status %d): aborting the job%s%s\n",
				comm->rank, comm->size, code, sup_dist_error(dist)[0] ? ": " : "", sup_dist_error(dist));
			sup_dist_abort(dist, code);
		}
		sup_dist_close(dist);
		return code;
	}
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].fn(argc - 2, argv + 2);
	return cli_fail(CLI_USAGE, NULL, "unknown command '%s' (commands: list train eval embed sample data demo)",
			argv[1]);
}
