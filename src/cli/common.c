/* Helpers shared by the commands that build configs and open checkpoints. */
#define _POSIX_C_SOURCE 200809L

#include "cli/cli.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int cli_config_build(struct sup_config **out, const struct sup_method *m, const char *ckpt_yaml, const char *yaml_path,
		     char **overrides, int n_overrides, char *err, size_t err_size)
{
	const struct sup_cfg_key *schemas[2] = {sup_config_common_keys(), m->config};
	struct sup_config *c = NULL;
	enum sup_status s = sup_config_new(&c, schemas, m->config ? 2 : 1, err, err_size);
	if (s != SUP_OK)
		return CLI_FAIL; /* a broken built-in schema */
	if (ckpt_yaml) {
		s = sup_config_load_yaml(c, ckpt_yaml, strlen(ckpt_yaml), "the checkpoint's config", err, err_size);
		if (s != SUP_OK)
			goto fail;
		sup_config_reset_flagged(c, SUP_CFG_RUNCTL);
	}
	if (yaml_path && (s = sup_config_load_yaml_file(c, yaml_path, err, err_size)) != SUP_OK)
		goto fail;
	for (int i = 0; i < n_overrides; i++)
		if ((s = sup_config_override(c, overrides[i], err, err_size)) != SUP_OK)
			goto fail;
	/* The resolved config names the data set actually used, so that it reproduces the run. */
	if (!*sup_config_str(c, "data") && m->default_data &&
	    (s = sup_config_set(c, "data", m->default_data, err, err_size)) != SUP_OK)
		goto fail;
	/* A new run's fortunes in its tokenizer's tokens (a checkpoint's config names them already). */
	const char *data = sup_config_str(c, "data"), *tokens = cli_text_data_for(c, data);
	if (!ckpt_yaml && tokens != data && (s = sup_config_set(c, "data", tokens, err, err_size)) != SUP_OK)
		goto fail;
	*out = c;
	return CLI_OK;
fail:
	sup_config_free(c);
	return s == SUP_ERR_NOMEM || s == SUP_ERR_IO ? CLI_FAIL : CLI_USAGE;
}

const char *cli_checkpoint_path(const char *arg, char *buf, size_t size)
{
	struct stat sb;
	if (stat(arg, &sb) == 0 && S_ISDIR(sb.st_mode))
		snprintf(buf, size, "%s/checkpoint.safetensors", arg);
	else
		snprintf(buf, size, "%s", arg);
	return buf;
}

int cli_load_checkpoint(struct cli_loaded *l, const char *path, char *err, size_t err_size)
{
	memset(l, 0, sizeof *l);
	char file[1100];
	cli_checkpoint_path(path, file, sizeof file);
	enum sup_status s = sup_checkpoint_open(&l->st, &l->meta, file, err, err_size);
	if (s != SUP_OK)
		return s == SUP_ERR_NOMEM ? CLI_FAIL : CLI_USAGE;
	l->method = sup_method_find(l->meta.method);
	if (!l->method) {
		snprintf(err, err_size, "%s: written by method '%s', which this build does not have", file,
			 l->meta.method);
		cli_loaded_free(l);
		return CLI_USAGE;
	}
	int code = cli_config_build(&l->cfg, l->method, l->meta.config_yaml, NULL, NULL, 0, err, err_size);
	if (code != CLI_OK)
		cli_loaded_free(l);
	return code;
}

int cli_loaded_build(struct cli_loaded *l, const struct sup_data_info *info, char *err, size_t err_size)
{
	struct sup_rng rng = sup_rng_make((uint64_t)sup_config_int(l->cfg, "seed"), 1);
	enum sup_status s = l->method->init(&l->state, l->cfg, info, &rng, err, err_size);
	if (s != SUP_OK)
		return s == SUP_ERR_NOMEM ? CLI_FAIL : CLI_USAGE;
	if (!l->st)
		return CLI_OK; /* the randomly initialised baseline: nothing to restore */
	struct sup_ckpt_part parts[SUP_MAX_PARTS];
	int n = l->method->parts(l->state, parts, SUP_MAX_PARTS);
	if (sup_checkpoint_restore(l->st, parts, n, false, err, err_size) != SUP_OK)
		return CLI_USAGE;
	return CLI_OK;
}

void cli_loaded_free(struct cli_loaded *l)
{
	if (l->state)
		l->method->free(l->state);
	sup_config_free(l->cfg);
	sup_safetensors_free(l->st);
	memset(l, 0, sizeof *l);
}

/* Encodes the whole split into *emb [N, D] (malloc) and *lab [N] (malloc, or NULL). */
int cli_encode_split(struct cli_loaded *l, const struct cli_source *src, int64_t batch, float **emb, int64_t *dim,
		     int64_t **lab, char *err, size_t es)
{
	struct sup_ctx c;
	sup_ctx_init(&c, sup_allocator_default(), 0);
	int64_t n = src->n, step = src->kind == SUP_BATCH_GRAPH ? n : batch;
	int64_t *idx = malloc(sizeof(int64_t) * (size_t)n);
	int code = CLI_FAIL;
	*emb = NULL;
	*lab = NULL;
	if (!idx)
		goto done;
	for (int64_t i = 0; i < n; i++)
		idx[i] = i;
	for (int64_t i0 = 0; i0 < n; i0 += step) {
		int64_t b = n - i0 < step ? n - i0 : step;
		struct sup_method_batch bt;
		struct sup_tensor *z = NULL;
		if (src->get(src, &c, idx + i0, b, 1, 0, 0, &bt) == SUP_OK)
			z = l->method ? l->method->encode(l->state, &c, &bt)
				      : sup_reshape(&c, bt.views[0], 2, (const int64_t[]){ b, -1 }); /* raw inputs */
		if (!z || z->ndim != 2 || z->shape[0] != b || z->dtype != SUP_F32) {
			snprintf(err, es, "encode: %s",
				 z ? "the method returned no [B, D] f32 tensor" : sup_ctx_error(&c));
			goto done;
		}
		if (!*emb) {
			*dim = z->shape[1];
			*emb = malloc(sizeof(float) * (size_t)(n * *dim));
			*lab = bt.labels ? malloc(sizeof(int64_t) * (size_t)n) : NULL;
			if (!*emb || (bt.labels && !*lab))
				goto done;
		}
		for (int64_t r = 0; r < b; r++)
			for (int64_t j = 0; j < *dim; j++)
				(*emb)[(i0 + r) * *dim + j] = (float)sup_tensor_get(z, r * *dim + j);
		for (int64_t r = 0; *lab && r < b; r++)
			(*lab)[i0 + r] = (int64_t)sup_tensor_get(bt.labels, r);
		sup_ctx_reset(&c);
	}
	code = CLI_OK;
done:
	if (code != CLI_OK && !err[0])
		snprintf(err, es, "out of memory");
	free(idx);
	sup_ctx_deinit(&c);
	return code;
}
