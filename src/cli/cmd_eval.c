/* `selfsup eval PROTOCOL[,PROTOCOL...] CHECKPOINT [data=...] [finetune.KEY=VALUE ...] [KEY=VALUE ...]
 * [--json]`: evaluates the representations of a checkpoint (or run folder) with the protocols of
 * src/eval/ (eval_run.c); finetune.* options configure the finetune protocol (eval_finetune.c);
 * other KEY=VALUE change the method's config (e.g. probe_layers=4). */
#include "cli/cli.h"

#include <stdlib.h>
#include <string.h>

int cli_cmd_eval(int argc, char **argv)
{
	const char *data = NULL, *method = NULL, *pos[2] = { NULL, NULL };
	bool json = false;
	int n_pos = 0, n_opts = 0;
	/* finetune.KEY=VALUE options, and the method's KEY=VALUE overrides */
	char **opts = calloc((size_t)argc + 1, sizeof *opts), **over = calloc((size_t)argc + 1, sizeof *over);
	int n_over = 0;
	if (!opts || !over) {
		free(opts);
		free(over);
		return cli_fail(CLI_FAIL, "eval", "out of memory");
	}
	for (int i = 0; i < argc; i++) {
		if (cli_is_help(argv[i])) {
			printf("usage: selfsup eval PROTOCOL[,PROTOCOL...] CHECKPOINT|raw|random [data=NAME|DIR] [method=NAME]\n"
			       "                    [finetune.KEY=VALUE ...] [KEY=VALUE ...] [--json]\n"
			       "Evaluates the representations of a checkpoint (or run folder) with PROTOCOL; the\n"
			       "baselines: `raw data=...` (the inputs themselves) and `random method=...` (the\n"
			       "method's randomly initialised model). Other KEY=VALUE change the method's config\n"
			       "before its model is built (keys that steer evaluation, e.g. probe_layers=4).\n"
			       "Protocols in this build:");
			cli_eval_list(stdout);
			printf("\n\n");
			cli_eval_options_help(stdout);
			free(opts);
			free(over);
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
		else if (strchr(argv[i], '=') && argv[i][0] != '=')
			over[n_over++] = argv[i];
		else {
			free(opts);
			free(over);
			return cli_fail(CLI_USAGE, "eval", "unexpected argument '%s'", argv[i]);
		}
	}
	if (n_pos < 2) {
		free(opts);
		free(over);
		return cli_fail(CLI_USAGE, "eval", "expected PROTOCOL CHECKPOINT");
	}
	char err[1024] = "";
	struct cli_metrics m;
	int code = cli_eval_run(pos[0], pos[1], data, method, opts, n_opts, over, n_over, &m, err, sizeof err);
	free(opts);
	free(over);
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
