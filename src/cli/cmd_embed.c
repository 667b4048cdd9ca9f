/* `selfsup embed CHECKPOINT [data=...] out=FILE.npy [split=train|test] [batch_size=N]
 * [labels=FILE.npy] [plot=FILE.svg] [--json]`: the method's representations (encode) of every
 * example of a split, in data-set order, as an f32 .npy array [N, D]; optionally the labels as
 * i64 [N] and a t-SNE map coloured by label. */
#include "cli/cli.h"

#include <stdlib.h>
#include <string.h>

struct embed_args {
	const char *ckpt, *data, *out, *labels, *split, *plot;
	int64_t batch;
	bool json;
};

static int parse(struct embed_args *a, int argc, char **argv)
{
	*a = (struct embed_args){.split = "train", .batch = 256, .labels = "", .plot = ""};
	for (int i = 0; i < argc; i++) {
		const char *s = argv[i], *eq = strchr(s, '=');
		if (strcmp(s, "--json") == 0)
			a->json = true;
		else if (!eq && s[0] != '-' && !a->ckpt)
			a->ckpt = s;
		else if (eq && strncmp(s, "data=", 5) == 0)
			a->data = eq + 1;
		else if (eq && strncmp(s, "out=", 4) == 0)
			a->out = eq + 1;
		else if (eq && strncmp(s, "labels=", 7) == 0)
			a->labels = eq + 1;
		else if (eq && strncmp(s, "plot=", 5) == 0)
			a->plot = eq + 1;
		else if (eq && strncmp(s, "split=", 6) == 0)
			a->split = eq + 1;
		else if (eq && strncmp(s, "batch_size=", 11) == 0) {
			char *end;
			a->batch = strtoll(eq + 1, &end, 10);
			if (*end || a->batch < 1)
				return cli_fail(CLI_USAGE, "embed", "batch_size expects a positive integer, got '%s'",
						eq + 1);
		} else
			return cli_fail(CLI_USAGE, "embed",
					"unexpected argument '%s' (keys: data out split batch_size labels plot)", s);
	}
	if (!a->ckpt || !a->out || !*a->out)
		return cli_fail(CLI_USAGE, "embed", "expected CHECKPOINT and out=FILE.npy");
	if (strcmp(a->split, "train") != 0 && strcmp(a->split, "test") != 0)
		return cli_fail(CLI_USAGE, "embed", "split expects train or test, got '%s'", a->split);
	return CLI_OK;
}

/* A t-SNE map (perplexity 30, 750 iterations) of at most 1500 evenly spaced examples, coloured by label, as SVG. */
static int plot_tsne(const char *path, const char *title, const float *emb, const int64_t *lab, int64_t n, int64_t dim,
		     char *err, size_t es)
{
	int64_t stride = (n + 1499) / 1500, m = (n + stride - 1) / stride;
	float *x = malloc(sizeof(float) * (size_t)(m * dim)), *xy = malloc(sizeof(float) * 2 * (size_t)m);
	int64_t *l = lab ? malloc(sizeof(int64_t) * (size_t)m) : NULL;
	int code = CLI_FAIL;
	if (!x || !xy || (lab && !l)) {
		snprintf(err, es, "out of memory");
		goto done;
	}
	for (int64_t i = 0; i < m; i++) {
		memcpy(x + i * dim, emb + i * stride * dim, sizeof(float) * (size_t)dim);
		if (l)
			l[i] = lab[i * stride];
	}
	if (m < 2 || sup_tsne(xy, x, m, dim, 30.0, 750, 0) != SUP_OK) {
		snprintf(err, es, "t-SNE of %lld points failed", (long long)m);
		goto done;
	}
	if (sup_plot_scatter_svg(path, title, xy, l, m, err, es) == SUP_OK)
		code = CLI_OK;
done:
	free(x);
	free(xy);
	free(l);
	return code;
}

int cli_cmd_embed(int argc, char **argv)
{
	for (int i = 0; i < argc; i++) {
		if (cli_is_help(argv[i])) {
			printf(
			    "usage: selfsup embed CHECKPOINT [data=NAME|DIR] out=FILE.npy [split=train|test]\n"
			    "                     [batch_size=256] [labels=FILE.npy] [plot=FILE.svg] [--json]\n"
			    "Writes the representations of every example of a split (in data-set order) as an f32\n"
			    ".npy array [N, D]; data defaults to the data set the checkpoint was trained on.\n"
			    "plot= also draws a t-SNE map (at most 1500 evenly spaced examples) coloured by label.\n");
			return CLI_OK;
		}
	}
	struct embed_args a;
	int code = parse(&a, argc, argv);
	if (code != CLI_OK)
		return code;
	char err[1024] = "";
	struct cli_loaded l;
	struct cli_source src = {0};
	float *emb = NULL;
	int64_t *lab = NULL, dim = 0;
	if ((code = cli_load_checkpoint(&l, a.ckpt, err, sizeof err)) != CLI_OK)
		return cli_fail(code, "embed", "%s", err);
	const char *data = a.data ? cli_text_data_like(a.data, l.meta.data) : l.meta.data;
	enum sup_status s = cli_source_open(&src, data, strcmp(a.split, "train") == 0, err, sizeof err);
	if (s == SUP_OK)
		s = cli_source_configure(&src, l.cfg, err, sizeof err); /* graphs: the training edges */
	code = s == SUP_OK ? CLI_OK : CLI_USAGE;
	if (code == CLI_OK && !cli_source_fits(&src, l.method)) {
		snprintf(err, sizeof err, "method '%s' cannot encode %s batches of '%s'", l.method->name,
			 sup_batch_kind_name(src.kind), data);
		code = CLI_USAGE;
	}
	if (code == CLI_OK)
		code = cli_loaded_build(&l, &src.info, err, sizeof err);
	if (code == CLI_OK)
		code = cli_encode_split(&l, &src, a.batch, &emb, &dim, &lab, err, sizeof err);
	if (code == CLI_OK) {
		struct sup_tensor t, tl;
		sup_tensor_init(&t, SUP_F32, 2, (const int64_t[]){src.n, dim}, emb);
		if (sup_npy_save(a.out, &t, err, sizeof err) != SUP_OK)
			code = CLI_FAIL;
		sup_tensor_init(&tl, SUP_I64, 1, (const int64_t[]){src.n}, lab);
		if (code == CLI_OK && *a.labels && lab && sup_npy_save(a.labels, &tl, err, sizeof err) != SUP_OK)
			code = CLI_FAIL;
	}
	if (code == CLI_OK && *a.plot) {
		char title[300];
		snprintf(title, sizeof title, "t-SNE of %s representations of %s (%s)", l.method->name, data, a.split);
		code = plot_tsne(a.plot, title, emb, lab, src.n, dim, err, sizeof err);
	}
	if (code == CLI_OK) {
		if (a.json) {
			printf("{\"embeddings\":");
			sup_json_write_string(stdout, a.out);
			printf(",\"method\":");
			sup_json_write_string(stdout, l.method->name);
			printf(",\"data\":");
			sup_json_write_string(stdout, data);
			printf(",\"n\":%lld,\"dim\":%lld}\n", (long long)src.n, (long long)dim);
		} else {
			printf("wrote %lld x %lld representations to %s\n", (long long)src.n, (long long)dim, a.out);
		}
	} else {
		cli_fail(code, "embed", "%s", err);
	}
	free(emb);
	free(lab);
	if (src.get)
		cli_source_close(&src);
	cli_loaded_free(&l);
	return code;
}
