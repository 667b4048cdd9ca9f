/* `selfsup eval PROTOCOL CHECKPOINT [key=value ...] [--json]`.
 *
 * Integration point for the evaluation protocols of src/eval/ (linear, knn, finetune, cluster,
 * linkpred, perplexity, bpd): cli_eval_known() names the protocols this build has and the
 * command opens and validates the checkpoint, rebuilds the method and its data set, and hands
 * them to the protocol. Until the protocols land, the list is empty and every protocol name is
 * a usage error (after the checkpoint has been checked, so that bad checkpoints are still
 * reported as such). */
#include "cli/cli.h"

#include <string.h>

static const char *const protocols[] = {NULL}; /* filled in when src/eval/ lands */

bool cli_eval_known(const char *protocol)
{
	for (int i = 0; protocols[i]; i++)
		if (strcmp(protocols[i], protocol) == 0)
			return true;
	return false;
}

int cli_cmd_eval(int argc, char **argv)
{
	for (int i = 0; i < argc; i++) {
		if (cli_is_help(argv[i])) {
			printf("usage: selfsup eval PROTOCOL CHECKPOINT [key=value ...] [--json]\n"
			       "Evaluates the representations of a checkpoint (or run folder) with PROTOCOL.\n"
			       "Protocols in this build:%s",
			       protocols[0] ? "" : " none yet");
			for (int k = 0; protocols[k]; k++)
				printf(" %s", protocols[k]);
			printf("\n");
			return CLI_OK;
		}
	}
	if (argc < 2)
		return cli_fail(CLI_USAGE, "eval", "expected PROTOCOL CHECKPOINT");
	char err[1024];
	struct cli_loaded l;
	int code = cli_load_checkpoint(&l, argv[1], err, sizeof err);
	if (code != CLI_OK)
		return cli_fail(code, "eval", "%s", err);
	if (!cli_eval_known(argv[0]))
		code = cli_fail(CLI_USAGE, "eval", "unknown evaluation protocol '%s'%s", argv[0],
				protocols[0] ? "" : " (no protocols in this build yet)");
	cli_loaded_free(&l);
	return code;
}
