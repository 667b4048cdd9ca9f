/* Checkpoints: a method's models, optimizer slots and training position in one safetensors file
 * (layout in include/selfsup/run.h and docs/cli.md). Saving goes through sup_safetensors_save,
 * which writes a temporary file, fsyncs and renames it, so a crash leaves the old checkpoint.
 * Restoring checks every name and shape before it copies anything, so a mismatched checkpoint
 * leaves the model as it was. */
#define _POSIX_C_SOURCE 200809L

#include "io/io_internal.h"
#include "selfsup/run.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define CKPT_NAME_MAX (SUP_NAME_MAX + 64)

/* Views of the optimizer slot `which` (1 or 2) for entry e of a model. */
static void slot_view(struct sup_tensor *t, const struct sup_optim *o, const struct sup_model_entry *e, int which)
{
	float *base = which == 1 ? o->slot1 : o->slot2;
	sup_tensor_init(t, SUP_F32, e->t.ndim, e->t.shape, base + e->offset);
}

static int count_tensors(const struct sup_ckpt_part *parts, int n_parts, bool with_optim)
{
	int n = 0;
	for (int p = 0; p < n_parts; p++) {
		const struct sup_model *m = parts[p].model;
		for (int i = 0; i < m->n_entries; i++)
			n += 1 + (with_optim && parts[p].optim && m->entries[i].kind == SUP_KIND_PARAM ? 2 : 0);
	}
	return n;
}

/* Fills names[k] and views[k] with every tensor of the parts in file order. */
static void list_tensors(const struct sup_ckpt_part *parts, int n_parts, bool with_optim, char (*names)[CKPT_NAME_MAX],
			 struct sup_tensor *views)
{
	int k = 0;
	for (int p = 0; p < n_parts; p++) {
		const struct sup_model *m = parts[p].model;
		for (int i = 0; i < m->n_entries; i++) {
			snprintf(names[k], CKPT_NAME_MAX, "%s%s", parts[p].prefix, m->entries[i].name);
			views[k++] = m->entries[i].t;
		}
		if (!with_optim || !parts[p].optim)
			continue;
		for (int which = 1; which <= 2; which++) {
			for (int i = 0; i < m->n_entries; i++) {
				const struct sup_model_entry *e = &m->entries[i];
				if (e->kind != SUP_KIND_PARAM)
					continue;
				snprintf(names[k], CKPT_NAME_MAX, "optim.slot%d.%s%s", which, parts[p].prefix, e->name);
				slot_view(&views[k++], parts[p].optim, e, which);
			}
		}
	}
}

static void fmt_double(char *buf, size_t size, double v)
{
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(buf, size, "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			return;
	}
}

enum sup_status sup_checkpoint_save(const char *path, const struct sup_ckpt_part *parts, int n_parts,
				    const struct sup_ckpt_meta *meta, char *err, size_t err_size)
{
	if (n_parts < 1 || n_parts > 16)
		return sup_errf(err, err_size, SUP_ERR_ARG, "checkpoint: %d parts (1..16)", n_parts);
	int n = count_tensors(parts, n_parts, true);
	char(*names)[CKPT_NAME_MAX] = malloc((size_t)(n ? n : 1) * sizeof *names);
	struct sup_tensor *views = malloc((size_t)(n ? n : 1) * sizeof *views);
	struct sup_named_tensor *nt = malloc((size_t)(n ? n : 1) * sizeof *nt);
	enum sup_status s = SUP_ERR_NOMEM;
	if (!names || !views || !nt) {
		sup_errf(err, err_size, s, "out of memory");
		goto cleanup;
	}
	list_tensors(parts, n_parts, true, names, views);
	for (int k = 0; k < n; k++)
		nt[k] = (struct sup_named_tensor){names[k], &views[k]};

	char ver[16], epoch[24], step[24], estep[24], loss[40], rng[48], steps[16][24], keys[16][80];
	snprintf(ver, sizeof ver, "%d", SUP_CHECKPOINT_VERSION);
	snprintf(epoch, sizeof epoch, "%" PRId64, meta->epoch);
	snprintf(step, sizeof step, "%" PRId64, meta->step);
	snprintf(estep, sizeof estep, "%" PRId64, meta->epoch_step);
	fmt_double(loss, sizeof loss, meta->epoch_loss_sum);
	snprintf(rng, sizeof rng, "%" PRIu64 ":%" PRIu64, meta->rng.key, meta->rng.counter);
	struct sup_str_pair md[10 + 16] = {
	    {"format", SUP_CHECKPOINT_FORMAT},
	    {"format_version", ver},
	    {"method", meta->method},
	    {"data", meta->data ? meta->data : ""},
	    {"config", meta->config_yaml ? meta->config_yaml : ""},
	    {"epoch", epoch},
	    {"step", step},
	    {"epoch_step", estep},
	    {"epoch_loss_sum", loss},
	    {"rng", rng},
	};
	int n_md = 10;
	for (int p = 0; p < n_parts; p++) {
		if (!parts[p].optim)
			continue;
		snprintf(keys[p], sizeof keys[p], "optim.steps.%s", parts[p].name);
		snprintf(steps[p], sizeof steps[p], "%" PRId64, parts[p].optim->steps);
		md[n_md++] = (struct sup_str_pair){keys[p], steps[p]};
	}
	struct sup_allocator al = sup_allocator_default();
	s = sup_safetensors_save(path, &al, nt, n, md, n_md, err, err_size);
cleanup:
	free(names);
	free(views);
	free(nt);
	return s;
}

/* Strict decimal int64 (the whole string). */
static bool parse_i64(const char *s, int64_t *out)
{
	if (!s || !*s)
		return false;
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (*end || errno)
		return false;
	*out = v;
	return true;
}

enum sup_status sup_checkpoint_open(struct sup_safetensors **st, struct sup_ckpt_meta *meta, const char *path,
				    char *err, size_t err_size)
{
	struct sup_allocator al = sup_allocator_default();
	memset(meta, 0, sizeof *meta);
	enum sup_status s = sup_safetensors_load(st, &al, path, err, err_size);
	if (s != SUP_OK) {
		if (s == SUP_ERR_FORMAT || s == SUP_ERR_DTYPE || s == SUP_ERR_SHAPE) {
			char tmp[512];
			snprintf(tmp, sizeof tmp, "%s", err && err_size ? err : "");
			sup_errf(err, err_size, SUP_ERR_FORMAT, "not a valid checkpoint: %s", tmp);
			return SUP_ERR_FORMAT;
		}
		return s;
	}
	const struct sup_safetensors *f = *st;
	const char *fmt = sup_safetensors_meta(f, "format"), *ver = sup_safetensors_meta(f, "format_version");
	int64_t v = 0;
	if (!fmt || strcmp(fmt, SUP_CHECKPOINT_FORMAT) != 0) {
		s = sup_errf(err, err_size, SUP_ERR_FORMAT, "%s: not a selfsup checkpoint (no format metadata)",
				path);
		goto fail;
	}
	if (!parse_i64(ver, &v) || v != SUP_CHECKPOINT_VERSION) {
		s = sup_errf(err, err_size, SUP_ERR_FORMAT, "%s: checkpoint format version %s (this build reads %d)",
				path, ver ? ver : "missing", SUP_CHECKPOINT_VERSION);
		goto fail;
	}
	meta->method = sup_safetensors_meta(f, "method");
	meta->config_yaml = sup_safetensors_meta(f, "config");
	meta->data = sup_safetensors_meta(f, "data");
	const char *rng = sup_safetensors_meta(f, "rng"), *loss = sup_safetensors_meta(f, "epoch_loss_sum");
	char *end = NULL;
	const char *colon = rng ? strchr(rng, ':') : NULL;
	bool ok = meta->method && *meta->method && meta->config_yaml && meta->data && colon &&
		  parse_i64(sup_safetensors_meta(f, "epoch"), &meta->epoch) &&
		  parse_i64(sup_safetensors_meta(f, "step"), &meta->step) &&
		  parse_i64(sup_safetensors_meta(f, "epoch_step"), &meta->epoch_step) && loss && meta->epoch >= 0 &&
		  meta->step >= 0 && meta->epoch_step >= 0;
	if (ok) {
		meta->epoch_loss_sum = strtod(loss, &end);
		ok = *loss && !*end;
		meta->rng.key = strtoull(rng, &end, 10);
		ok = ok && end == colon;
		meta->rng.counter = strtoull(colon + 1, &end, 10);
		ok = ok && colon[1] && !*end;
	}
	if (!ok) {
		s = sup_errf(err, err_size, SUP_ERR_FORMAT, "%s: checkpoint metadata incomplete or malformed", path);
		goto fail;
	}
	return SUP_OK;
fail:
	sup_safetensors_free(*st);
	*st = NULL;
	memset(meta, 0, sizeof *meta);
	return s;
}

static bool is_slot_name(const char *name)
{
	return strncmp(name, "optim.slot1.", 12) == 0 || strncmp(name, "optim.slot2.", 12) == 0;
}

/* Checks that the file holds exactly the tensors in names/views (slots ignored without optim). */
static enum sup_status check_tensors(const struct sup_safetensors *st, int n, char (*names)[CKPT_NAME_MAX],
				     const struct sup_tensor *views, bool with_optim, char *err, size_t err_size)
{
	char a[160], b[160];
	for (int k = 0; k < n; k++) {
		const struct sup_tensor *t = sup_safetensors_get(st, names[k]);
		if (!t)
			return sup_errf(err, err_size, SUP_ERR_FORMAT,
					   "checkpoint lacks tensor '%s' (written by another model configuration?)",
					   names[k]);
		if (t->dtype != SUP_F32 || !sup_tensor_same_shape(t, &views[k]))
			return sup_errf(err, err_size, SUP_ERR_SHAPE,
					   "checkpoint tensor '%s' is %s %s, the model has f32 %s", names[k],
					   sup_dtype_name(t->dtype), sup_shape_str(a, sizeof a, t->ndim, t->shape),
					   sup_shape_str(b, sizeof b, views[k].ndim, views[k].shape));
	}
	int64_t expected_in_file = 0;
	for (int64_t i = 0; i < st->n_entries; i++)
		expected_in_file += with_optim || !is_slot_name(st->entries[i].name);
	if (expected_in_file != n) {
		for (int64_t i = 0; i < st->n_entries; i++) {
			const char *nm = st->entries[i].name;
			bool found = false;
			for (int k = 0; k < n && !found; k++)
				found = strcmp(names[k], nm) == 0;
			if (!found && (with_optim || !is_slot_name(nm)))
				return sup_errf(err, err_size, SUP_ERR_FORMAT,
						   "checkpoint has tensor '%s' that the model does not have", nm);
		}
	}
	return SUP_OK;
}

enum sup_status sup_checkpoint_restore(const struct sup_safetensors *st, const struct sup_ckpt_part *parts, int n_parts,
				       bool with_optim, char *err, size_t err_size)
{
	int n = count_tensors(parts, n_parts, with_optim);
	char(*names)[CKPT_NAME_MAX] = malloc((size_t)(n ? n : 1) * sizeof *names);
	struct sup_tensor *views = malloc((size_t)(n ? n : 1) * sizeof *views);
	enum sup_status s = SUP_ERR_NOMEM;
	int64_t steps[16] = {0};
	if (!names || !views || n_parts > 16) {
		s = sup_errf(err, err_size, n_parts > 16 ? SUP_ERR_ARG : s,
				"checkpoint restore: bad arguments or no memory");
		goto cleanup;
	}
	list_tensors(parts, n_parts, with_optim, names, views);
	if ((s = check_tensors(st, n, names, views, with_optim, err, err_size)) != SUP_OK)
		goto cleanup;
	for (int p = 0; with_optim && p < n_parts; p++) {
		if (!parts[p].optim)
			continue;
		char key[96];
		snprintf(key, sizeof key, "optim.steps.%s", parts[p].name);
		if (!parse_i64(sup_safetensors_meta(st, key), &steps[p]) || steps[p] < 0) {
			s = sup_errf(err, err_size, SUP_ERR_FORMAT, "checkpoint metadata '%s' missing or malformed",
					key);
			goto cleanup;
		}
	}
	/* Every check passed: now copy. */
	for (int k = 0; k < n; k++) {
		const struct sup_tensor *t = sup_safetensors_get(st, names[k]);
		memcpy(views[k].data, t->data, sup_tensor_nbytes(t));
	}
	for (int p = 0; with_optim && p < n_parts; p++)
		if (parts[p].optim)
			parts[p].optim->steps = steps[p];
	s = SUP_OK;
cleanup:
	free(names);
	free(views);
	return s;
}
