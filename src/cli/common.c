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
