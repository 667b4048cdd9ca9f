/* `selfsup list [--json] [--all]`: the registered methods as a table (or a JSON array). Test
 * fixtures (the toy method) are listed only with --all. */
#include "cli/cli.h"

#include <string.h>

int cli_cmd_list(int argc, char **argv)
{
	bool json = false, all = false;
	for (int i = 0; i < argc; i++) {
		if (cli_is_help(argv[i])) {
			printf("usage: selfsup list [--json] [--all]\n"
			       "Lists the methods `selfsup train` knows: name, family, branch, modalities, paper.\n"
			       "--all also lists test fixtures; --json prints one JSON object with a \"methods\" "
			       "array.\n");
			return CLI_OK;
		} else if (strcmp(argv[i], "--json") == 0) {
			json = true;
		} else if (strcmp(argv[i], "--all") == 0) {
			all = true;
		} else {
			return cli_fail(CLI_USAGE, "list", "unexpected argument '%s' (options: --json --all --help)",
					argv[i]);
		}
	}
	int shown = 0;
	char mods[64];
	if (json)
		printf("{\"methods\":[");
	else
		printf("%-12s %-24s %-34s %-14s %s\n", "method", "family", "branch", "modalities", "paper");
	for (int i = 0; i < sup_method_count(); i++) {
		const struct sup_method *m = sup_method_at(i);
		if (m->fixture && !all)
			continue;
		sup_modalities_str(mods, sizeof mods, m->modalities);
		if (json) {
			printf("%s{\"name\":", shown ? "," : "");
			sup_json_write_string(stdout, m->name);
			printf(",\"family\":");
			sup_json_write_string(stdout, m->family);
			printf(",\"branch\":");
			sup_json_write_string(stdout, m->branch);
			printf(",\"modalities\":");
			sup_json_write_string(stdout, mods);
			printf(",\"paper\":");
			sup_json_write_string(stdout, m->paper ? m->paper : "");
			printf(",\"fixture\":%s}", m->fixture ? "true" : "false");
		} else {
			printf("%-12s %-24s %-34s %-14s %s\n", m->name, m->family, m->branch, mods,
			       m->paper ? m->paper : "");
		}
		shown++;
	}
	if (json)
		printf("]}\n");
	else if (!shown)
		printf("no methods registered yet\n");
	return CLI_OK;
}
