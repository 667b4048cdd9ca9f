/* `selfsup data info|check|fetch NAME_OR_PATH [--json]`: what a data set holds, whether it
 * loads, and where to get it. Nothing is downloaded: registered data sets come from Debian
 * packages or from ../shared/data (no network at run time). */
#include "cli/cli.h"
#include "selfsup/data.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void describe(const char *split, const struct cli_source *s, bool json, bool first)
{
	const struct sup_data_info *in = &s->info;
	if (json) {
		printf("%s\"%s\":{\"examples\":%lld,\"classes\":%d,\"batch\":\"%s\"", first ? "" : ",", split,
		       (long long)s->n, in->n_classes, sup_batch_kind_name(s->kind));
		if (in->modality == SUP_MODALITY_IMAGE)
			printf(",\"shape\":[%d,%d,%d]", in->channels, in->height, in->width);
		else if (in->modality == SUP_MODALITY_TEXT)
			printf(",\"vocab\":%lld,\"seq_len\":%lld", (long long)in->vocab_size, (long long)in->seq_len);
		else
			printf(",\"dim\":%lld", (long long)in->dim);
		printf("}");
		return;
	}
	printf("  %-5s %lld examples, %d classes, %s", split, (long long)s->n, in->n_classes,
	       sup_batch_kind_name(s->kind));
	if (in->modality == SUP_MODALITY_IMAGE)
		printf(" %dx%dx%d\n", in->channels, in->height, in->width);
	else if (in->modality == SUP_MODALITY_TEXT)
		printf(", rows of %lld of a vocabulary of %lld\n", (long long)in->seq_len, (long long)in->vocab_size);
	else
		printf(" of dimension %lld\n", (long long)in->dim);
}

/* check: every label below the class count, in both splits. A graph is one batch of all its
 * nodes, where -1 marks an unlabelled node. */
static int check_labels(const struct cli_source *s, char *err, size_t es)
{
	struct sup_ctx c;
	sup_ctx_init(&c, sup_allocator_default(), 0);
	int code = CLI_OK;
	const bool graph = s->kind == SUP_BATCH_GRAPH;
	const int64_t step = graph ? s->n : 1;
	int64_t *idx = malloc(sizeof(int64_t) * (size_t)(s->n + 1));
	for (int64_t i = 0; idx && i < s->n; i++)
		idx[i] = i;
	if (!idx) {
		snprintf(err, es, "out of memory");
		code = CLI_FAIL;
	}
	for (int64_t i = 0; i < s->n && code == CLI_OK; i += step) {
		struct sup_method_batch b;
		if (s->get(s, &c, idx + i, step, 1, 0, 0, &b) != SUP_OK) {
			snprintf(err, es, "example %lld: %s", (long long)i, sup_ctx_error(&c));
			code = CLI_FAIL;
		}
		for (int64_t k = 0; code == CLI_OK && b.labels && s->info.n_classes > 0 && k < step; k++) {
			double y = sup_tensor_get(b.labels, k);
			if ((y < 0 && !(graph && y == -1)) || y >= s->info.n_classes) {
				snprintf(err, es, "example %lld has label %g outside 0..%d", (long long)(i + k), y,
					 s->info.n_classes - 1);
				code = CLI_FAIL;
			}
		}
		sup_ctx_reset(&c);
	}
	free(idx);
	sup_ctx_deinit(&c);
	return code;
}

int cli_cmd_data(int argc, char **argv)
{
	bool json = false;
	const char *verb = NULL, *name = NULL;
	for (int i = 0; i < argc; i++) {
		if (cli_is_help(argv[i])) {
			printf(
			    "usage: selfsup data info|check|fetch NAME_OR_PATH [--json]\n"
			    "  info   splits, sizes, shapes, classes\n"
			    "  check  loads every example and validates labels (exit 1 on a defect)\n"
			    "  fetch  says where a registered data set comes from (no downloads)\n"
			    "Registered: fashion-mnist (Debian dataset-fashion-mnist), synthetic, cora (shared data folder,\n"
			    "planetoid/cora), fortunes and fortune-8 (Debian fortunes; bytes, or BPE as fortunes-bpe and\n"
			    "fortune-8-bpe); or an IDX folder, or a graph folder (edge_index.npy, x_*.npy, y.npy).\n");
			return CLI_OK;
		} else if (strcmp(argv[i], "--json") == 0) {
			json = true;
		} else if (!verb) {
			verb = argv[i];
		} else if (!name) {
			name = argv[i];
		} else {
			return cli_fail(CLI_USAGE, "data", "unexpected argument '%s'", argv[i]);
		}
	}
	if (!verb || !name)
		return cli_fail(CLI_USAGE, "data", "expected info|check|fetch NAME_OR_PATH");
	bool info = strcmp(verb, "info") == 0, check = strcmp(verb, "check") == 0;
	if (strcmp(verb, "fetch") == 0) {
		if (strcmp(name, "fashion-mnist") == 0) {
			struct stat sb;
			bool have = stat(SUP_FASHION_MNIST_DIR, &sb) == 0;
			printf("fashion-mnist comes from Debian's dataset-fashion-mnist package (%s at %s)%s\n",
			       have ? "installed" : "not installed", SUP_FASHION_MNIST_DIR,
			       have ? "" : ": apt-get install dataset-fashion-mnist");
			return have ? CLI_OK : CLI_FAIL;
		}
		if (strcmp(name, "synthetic") == 0) {
			printf("synthetic is generated in memory; nothing to fetch\n");
			return CLI_OK;
		}
		char dir[1024];
		if (cli_graph_source_resolve(name, dir, sizeof dir)) {
			printf("%s is a graph folder at %s (the shared data folder; nothing to fetch)\n", name, dir);
			return CLI_OK;
		}
		return cli_fail(CLI_USAGE, "data", "no known source for '%s' (registered: fashion-mnist, synthetic, cora)",
				name);
	}
	if (!info && !check)
		return cli_fail(CLI_USAGE, "data", "unknown verb '%s' (info, check, fetch)", verb);
	char err[1024] = "";
	struct cli_source tr, te;
	enum sup_status s = cli_source_open(&tr, name, true, err, sizeof err);
	if (s != SUP_OK)
		return cli_fail(s == SUP_ERR_NOT_FOUND ? CLI_USAGE : CLI_FAIL, "data", "%s", err);
	if ((s = cli_source_open(&te, name, false, err, sizeof err)) != SUP_OK) {
		cli_source_close(&tr);
		return cli_fail(s == SUP_ERR_NOT_FOUND ? CLI_USAGE : CLI_FAIL, "data", "%s", err);
	}
	int code = CLI_OK;
	if (check && (code = check_labels(&tr, err, sizeof err)) == CLI_OK)
		code = check_labels(&te, err, sizeof err);
	if (code != CLI_OK) {
		cli_fail(code, "data", "%s: %s", name, err);
	} else if (json) {
		printf("{\"data\":");
		sup_json_write_string(stdout, name);
		printf(",");
		describe("train", &tr, true, true);
		describe("test", &te, true, false);
		printf(",\"ok\":true}\n");
	} else {
		printf("%s:\n", name);
		describe("train", &tr, false, true);
		describe("test", &te, false, false);
		if (check)
			printf("check: ok\n");
	}
	cli_source_close(&tr);
	cli_source_close(&te);
	return code;
}
