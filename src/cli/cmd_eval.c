/* `selfsup eval PROTOCOL[,PROTOCOL...] CHECKPOINT [data=...] [finetune.KEY=VALUE ...] [--json]`:
 * evaluates the representations of a checkpoint (or run folder) with the protocols of src/eval/
 * (eval_run.c); finetune.* options configure the finetune protocol (eval_finetune.c). */
#include "cli/cli.h"

#include <stdlib.h>
#include <string.h>

int cli_cmd_eval(int argc, char **argv)
{
	const char *data = NULL, *method = NULL, *pos[2] = { NULL, NULL };
	bool json = false;
	int n_pos = 0, n_opts = 0;
	char **opts = calloc((size_t)argc + 1, sizeof *opts); /* finetune.KEY=VALUE options */
	if (!opts)
		return cli_fail(CLI_FAIL, "eval", "out of memory");
	for (int i = 0; i < argc; i++) {
		if (cli_is_help(argv[i])) {
			printf("usage: selfsup eval PROTOCOL[,PROTOCOL...] CHECKPOINT|raw|random [data=NAME|DIR] [method=NAME]\n"
			       "                    [finetune.KEY=VALUE ...] [--json]\n"
			       "Evaluates the representations of a checkpoint (or run folder) with PROTOCOL; the\n"
			       "baselines: `raw data=...` (the inputs themselves) and `random method=...` (the\n"
			       "method's randomly initialised model).\n"
			       "Protocols in this build:");
			cli_eval_list(stdout);
			printf("\n\n");
			cli_eval_options_help(stdout);
			free(opts);
			return CLI_OK;
		}
		if (strcmp(argv[i], "--json") == 0)
			json = true;
		else if (strncmp(argv[i], "data=", 5) == 0)
			data = argv[i] + 5;
		else if (strncmp(argv[i], "method=", 7) == 0)
			method = argv[i] + 7;
		else if (cli_eval_is_option(argv[i]))
			opts[n_opts++] = argv[i];
		else if (!strchr(argv[i], '=') && n_pos < 2)
			pos[n_pos++] = argv[i];
		else {
			free(opts);
			return cli_fail(CLI_USAGE, "eval", "unexpected argument '%s' (keys: data method finetune.*)",
					argv[i]);
		}
	}
	if (n_pos < 2) {
		free(opts);
		return cli_fail(CLI_USAGE, "eval", "expected PROTOCOL CHECKPOINT");
	}
	char err[1024] = "";
	struct cli_metrics m;
	int code = cli_eval_run(pos[0], pos[1], data, method, opts, n_opts, &m, err, sizeof err);
	free(opts);
	if (code != CLI_OK)
		return cli_fail(code, "eval", "%s", err);
	if (json) {
		printf("{");
		for (int i = 0; i < m.n; i++) {
			printf("%s\"%s\":", i ? "," : "", m.names[i]);
			sup_json_write_number(stdout, m.values[i]);
		}
		printf("}\n");
	} else {
		for (int i = 0; i < m.n; i++)
			printf("%-12s %.4f\n", m.names[i], m.values[i]);
	}
	return CLI_OK;
}
