/* `selfsup sample CHECKPOINT [n=16] [prompt=TEXT] [seed=0] [out=samples.npy|grid.png] [KEY=VALUE...]
 * [--json]`: draws samples from a generative method (images [n, C, H, W] in [0, 1] or tokens
 * [n, T]) and writes them as .npy, or images as a PNG grid (8 per row) when out ends in .png.
 * Byte tokens (language models) are also printed as text, one sample per paragraph, up to the
 * first special token. Other KEY=VALUE pairs override the method's config (e.g. gpt's
 * sample.temperature=0.7 sample.top_k=20). */
#include "cli/cli.h"
#include "selfsup/data.h"

#include <stdlib.h>
#include <string.h>

/* Byte tokens [n, T] as text: each sample up to its first special token, then a blank line. */
static void print_text(const struct sup_tensor *t)
{
	int64_t n = t->shape[0], T = t->shape[1];
	for (int64_t i = 0; i < n; i++) {
		for (int64_t j = 0; j < T; j++) {
			int64_t id = (int64_t)sup_tensor_get(t, i * T + j);
			if (id < 0 || id > 255)
				break;
			putchar((int)id);
		}
		printf("\n\n");
	}
}

int cli_cmd_sample(int argc, char **argv)
{
	const char *ckpt = NULL, *prompt = NULL, *out = "samples.npy";
	long long n = 16, seed = 0;
	bool json = false, out_given = false;
	char **over = calloc((size_t)argc + 1, sizeof *over);
	int n_over = 0;
	if (!over)
		return cli_fail(CLI_FAIL, "sample", "out of memory");
	for (int i = 0; i < argc; i++) {
		const char *s = argv[i], *eq = strchr(s, '=');
		char *end = NULL;
		if (cli_is_help(s)) {
			printf("usage: selfsup sample CHECKPOINT [n=16] [prompt=TEXT] [seed=0] [out=samples.npy] "
			       "[KEY=VALUE ...] [--json]\n"
			       "Draws n samples from a generative method's checkpoint and writes them as .npy\n"
			       "(language models: printed as text; .npy only with out=). KEY=VALUE overrides\n"
			       "the method's config, e.g. sample.temperature=0.7 sample.top_k=20.\n");
			free(over);
			return CLI_OK;
		} else if (strcmp(s, "--json") == 0) {
			json = true;
		} else if (!eq && s[0] != '-' && !ckpt) {
			ckpt = s;
		} else if (eq && strncmp(s, "n=", 2) == 0) {
			n = strtoll(eq + 1, &end, 10);
			if (*end || n < 1) {
				free(over);
				return cli_fail(CLI_USAGE, "sample", "n expects a positive integer, got '%s'", eq + 1);
			}
		} else if (eq && strncmp(s, "seed=", 5) == 0) {
			seed = strtoll(eq + 1, &end, 10);
			if (*end || eq[1] == 0) {
				free(over);
				return cli_fail(CLI_USAGE, "sample", "seed expects an integer, got '%s'", eq + 1);
			}
		} else if (eq && strncmp(s, "prompt=", 7) == 0) {
			prompt = eq + 1;
		} else if (eq && strncmp(s, "out=", 4) == 0) {
			out = eq + 1;
			out_given = true;
		} else if (eq && eq != s) {
			over[n_over++] = argv[i]; /* a config key of the method */
		} else {
			free(over);
			return cli_fail(CLI_USAGE, "sample", "unexpected argument '%s' (keys: n prompt seed out KEY=VALUE)", s);
		}
	}
	if (!ckpt) {
		free(over);
		return cli_fail(CLI_USAGE, "sample", "expected CHECKPOINT");
	}
	char err[1024] = "";
	struct cli_loaded l;
	int code = cli_load_checkpoint(&l, ckpt, err, sizeof err);
	for (int i = 0; code == CLI_OK && i < n_over; i++)
		if (sup_config_override(l.cfg, over[i], err, sizeof err) != SUP_OK) {
			cli_loaded_free(&l);
			code = CLI_USAGE;
		}
	free(over);
	if (code != CLI_OK)
		return cli_fail(code, "sample", "%s", err);
	struct cli_source src = {0};
	if (!l.method->sample) {
		snprintf(err, sizeof err, "method '%s' is not generative: nothing to sample", l.method->name);
		code = CLI_USAGE;
	} else if (cli_source_open(&src, l.meta.data, true, err, sizeof err) != SUP_OK) {
		code = CLI_USAGE;
	}
	if (code == CLI_OK)
		code = cli_loaded_build(&l, &src.info, err, sizeof err);
	if (code == CLI_OK) {
		size_t ol = strlen(out);
		bool png = ol > 4 && strcmp(out + ol - 4, ".png") == 0;
		struct sup_ctx c;
		sup_ctx_init(&c, sup_allocator_default(), (uint64_t)seed);
		struct sup_tensor *t = l.method->sample(l.state, &c, n, prompt);
		if (!t) {
			snprintf(err, sizeof err, "sampling failed: %s", sup_ctx_error(&c));
			code = CLI_FAIL;
		} else if (png && sup_plot_grid_png(out, t, 8, err, sizeof err) != SUP_OK) {
			code = CLI_FAIL;
		} else if (t->dtype == SUP_I64 && !json) {
			print_text(t);
			if (out_given && sup_npy_save(out, t, err, sizeof err) != SUP_OK)
				code = CLI_FAIL;
		} else if (!png && sup_npy_save(out, t, err, sizeof err) != SUP_OK) {
			code = CLI_FAIL;
		} else if (json) {
			printf("{\"samples\":");
			sup_json_write_string(stdout, out);
			printf(",\"method\":");
			sup_json_write_string(stdout, l.method->name);
			printf(",\"n\":%lld}\n", n);
		} else {
			printf("wrote %lld samples to %s\n", n, out);
		}
		sup_ctx_deinit(&c);
	}
	if (code != CLI_OK)
		cli_fail(code, "sample", "%s", err);
	if (src.get)
		cli_source_close(&src);
	cli_loaded_free(&l);
	return code;
}
