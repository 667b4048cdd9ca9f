/* io layer: checkpoints (round trip of parameters, buffers, optimizer slots and metadata;
 * validation of corrupt, mismatched and foreign files). */
#define _POSIX_C_SOURCE 200809L

#include "iotest.h"
#include "selfsup/run.h"

/* A small model: a [3, 4] weight, a [3] bias and a [3] buffer, under prefix. */
static void build(struct sup_model *m, int64_t out, uint64_t seed)
{
	sup_model_init(m, sup_allocator_default());
	sup_model_add(m, "enc", "weight", SUP_KIND_PARAM, 2, (const int64_t[]){out, 4}, SUP_INIT_NORMAL, 1.0, 0);
	sup_model_add(m, "enc", "bias", SUP_KIND_PARAM, 1, (const int64_t[]){out}, SUP_INIT_NORMAL, 1.0, 0);
	sup_model_add(m, "bn", "running_mean", SUP_KIND_BUFFER, 1, (const int64_t[]){out}, SUP_INIT_NORMAL, 1.0, 0);
	struct sup_rng r = sup_rng_make(seed, 0);
	TU_CHECK(sup_model_build(m, &r) == SUP_OK);
}

/* Fills the gradients and takes two Adam steps so both slots and the step count are non-trivial. */
static void train(struct sup_optim *o, struct sup_model *m)
{
	struct sup_optim_config oc = {.kind = SUP_OPTIM_ADAM};
	TU_CHECK(sup_optim_init(o, m, &oc) == SUP_OK);
	for (int s = 0; s < 2; s++) {
		for (int64_t i = 0; i < m->n_params; i++)
			m->grads[i] = (float)(0.1 * (double)(i + 1) * (s + 1));
		sup_optim_step(o, 0.01);
	}
}

static bool same_floats(const float *a, const float *b, int64_t n)
{
	return memcmp(a, b, sizeof(float) * (size_t)n) == 0;
}

static void test_round_trip(const char *dir)
{
	struct sup_model m, mom, m2, mom2;
	struct sup_optim o, o2;
	build(&m, 3, 1);
	build(&mom, 3, 2);
	train(&o, &m);
	char path[256], err[512] = "";
	snprintf(path, sizeof path, "%s/ckpt.safetensors", dir);
	struct sup_ckpt_part parts[2] = {{"model", "", &m, &o}, {"momentum", "momentum.", &mom, NULL}};
	struct sup_ckpt_meta meta = {.method = "toy",
				     .config_yaml = "epochs: 3\nlr: 0.1\n",
				     .data = "synthetic",
				     .epoch = 2,
				     .step = 17,
				     .epoch_step = 1,
				     .epoch_loss_sum = 0.1 + 0.2,
				     .rng = {0xdeadbeefcafef00dull, 12345678901234ull}};
	TU_CHECK_MSG(sup_checkpoint_save(path, parts, 2, &meta, err, sizeof err) == SUP_OK, "%s", err);
	TU_CHECK(iot_count(dir, ".tmp.") == 0);

	/* Names, shapes and metadata as documented. */
	struct sup_safetensors *st = NULL;
	struct sup_ckpt_meta got;
	TU_CHECK_MSG(sup_checkpoint_open(&st, &got, path, err, sizeof err) == SUP_OK, "%s", err);
	const char *names[] = {"enc.weight",
			       "enc.bias",
			       "bn.running_mean",
			       "optim.slot1.enc.weight",
			       "optim.slot2.enc.bias",
			       "momentum.enc.weight",
			       "momentum.bn.running_mean"};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		TU_CHECK_MSG(st && sup_safetensors_get(st, names[i]), "%s", names[i]);
	TU_CHECK(st && st->n_entries == 3 + 4 + 3);
	TU_CHECK(st && !sup_safetensors_get(st, "optim.slot1.bn.running_mean")); /* buffers have no slots */
	const struct sup_tensor *w = st ? sup_safetensors_get(st, "enc.weight") : NULL;
	TU_CHECK(w && w->ndim == 2 && w->shape[0] == 3 && w->shape[1] == 4 && w->dtype == SUP_F32);
	TU_CHECK(strcmp(got.method, "toy") == 0 && strcmp(got.data, "synthetic") == 0);
	TU_CHECK(strcmp(got.config_yaml, meta.config_yaml) == 0);
	TU_CHECK(got.epoch == 2 && got.step == 17 && got.epoch_step == 1 && got.epoch_loss_sum == 0.1 + 0.2);
	TU_CHECK(got.rng.key == meta.rng.key && got.rng.counter == meta.rng.counter);
	TU_CHECK(strcmp(sup_safetensors_meta(st, "optim.steps.model"), "2") == 0);

	/* Restore into fresh models with other weights: bit-identical afterwards. */
	build(&m2, 3, 7);
	build(&mom2, 3, 8);
	struct sup_optim_config oc = {.kind = SUP_OPTIM_ADAM};
	TU_CHECK(sup_optim_init(&o2, &m2, &oc) == SUP_OK);
	struct sup_ckpt_part parts2[2] = {{"model", "", &m2, &o2}, {"momentum", "momentum.", &mom2, NULL}};
	TU_CHECK_MSG(sup_checkpoint_restore(st, parts2, 2, true, err, sizeof err) == SUP_OK, "%s", err);
	TU_CHECK(same_floats(m.params, m2.params, m.n_params) && same_floats(m.buffers, m2.buffers, m.n_buffers));
	TU_CHECK(same_floats(o.slot1, o2.slot1, m.n_params) && same_floats(o.slot2, o2.slot2, m.n_params));
	TU_CHECK(same_floats(mom.params, mom2.params, mom.n_params) && o2.steps == 2);

	/* Evaluation restores without optimizer state and without an optimizer. */
	struct sup_model m3;
	build(&m3, 3, 9);
	struct sup_ckpt_part parts3[2] = {{"model", "", &m3, NULL}, {"momentum", "momentum.", &mom2, NULL}};
	TU_CHECK(sup_checkpoint_restore(st, parts3, 2, false, err, sizeof err) == SUP_OK);
	TU_CHECK(same_floats(m.params, m3.params, m.n_params));
	/* ... but a training restore of a model part without its momentum part is refused. */
	TU_CHECK(sup_checkpoint_restore(st, parts3, 1, false, err, sizeof err) == SUP_ERR_FORMAT);
	TU_CHECK_MSG(strstr(err, "'momentum.enc.weight'") != NULL, "%s", err);

	/* A model of another shape: a clear error and the model untouched. */
	struct sup_model big;
	build(&big, 5, 3);
	float before[64];
	memcpy(before, big.params, sizeof(float) * (size_t)big.n_params);
	struct sup_ckpt_part pb[2] = {{"model", "", &big, NULL}, {"momentum", "momentum.", &mom2, NULL}};
	TU_CHECK(sup_checkpoint_restore(st, pb, 2, false, err, sizeof err) == SUP_ERR_SHAPE);
	TU_CHECK_MSG(strstr(err, "'enc.weight'") && strstr(err, "[3, 4]") && strstr(err, "[5, 4]"), "%s", err);
	TU_CHECK(same_floats(before, big.params, big.n_params));

	sup_safetensors_free(st);
	sup_optim_deinit(&o);
	sup_optim_deinit(&o2);
	sup_model_deinit(&m);
	sup_model_deinit(&mom);
	sup_model_deinit(&m2);
	sup_model_deinit(&mom2);
	sup_model_deinit(&m3);
	sup_model_deinit(&big);
}

/* Rewrites the checkpoint with one metadata entry changed (value NULL: removed). */
static void save_with_meta(const char *src, const char *dst, const char *key, const char *value)
{
	struct sup_allocator a = sup_allocator_default();
	struct sup_safetensors *st = NULL;
	TU_CHECK(sup_safetensors_load(&st, &a, src, NULL, 0) == SUP_OK);
	if (!st)
		return;
	struct sup_named_tensor nt[16];
	struct sup_str_pair md[32];
	int n_md = 0;
	for (int64_t i = 0; i < st->n_entries && i < 16; i++)
		nt[i] = (struct sup_named_tensor){st->entries[i].name, &st->entries[i].tensor};
	for (int64_t i = 0; i < st->n_meta && n_md < 32; i++) {
		if (strcmp(st->meta[i].key, key) != 0)
			md[n_md++] = st->meta[i];
		else if (value)
			md[n_md++] = (struct sup_str_pair){key, value};
	}
	TU_CHECK(sup_safetensors_save(dst, &a, nt, st->n_entries, md, n_md, NULL, 0) == SUP_OK);
	sup_safetensors_free(st);
}

static void test_corrupt(const char *dir)
{
	char good[256], bad[256], err[512] = "";
	snprintf(good, sizeof good, "%s/ckpt.safetensors", dir);
	snprintf(bad, sizeof bad, "%s/bad.safetensors", dir);
	struct sup_safetensors *st = NULL;
	struct sup_ckpt_meta meta;
	size_t n = 0;
	unsigned char *bytes = iot_read_file(good, &n);
	TU_CHECK(bytes && n > 100);
	if (!bytes)
		return;
	/* Truncated, garbage, missing. */
	TU_CHECK(iot_write_file(bad, bytes, n - 10));
	TU_CHECK(sup_checkpoint_open(&st, &meta, bad, err, sizeof err) == SUP_ERR_FORMAT && !st);
	TU_CHECK_MSG(strstr(err, "not a valid checkpoint") && strstr(err, "bad.safetensors"), "%s", err);
	TU_CHECK(iot_write_file(bad, "garbage!garbage!", 16));
	TU_CHECK(sup_checkpoint_open(&st, &meta, bad, err, sizeof err) == SUP_ERR_FORMAT);
	snprintf(bad, sizeof bad, "%s/missing.safetensors", dir);
	TU_CHECK(sup_checkpoint_open(&st, &meta, bad, err, sizeof err) == SUP_ERR_NOT_FOUND);
	snprintf(bad, sizeof bad, "%s/bad.safetensors", dir);
	/* Valid safetensors, but not ours or not whole. */
	struct {
		const char *key, *value, *msg;
	} cases[] = {
	    {"format", NULL, "not a selfsup checkpoint"},
	    {"format", "pt", "not a selfsup checkpoint"},
	    {"format_version", "2", "format version 2"},
	    {"epoch", "-1", "metadata"},
	    {"rng", "12", "metadata"},
	    {"step", "1x", "metadata"},
	    {"method", NULL, "metadata"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		save_with_meta(good, bad, cases[i].key, cases[i].value);
		err[0] = 0;
		TU_CHECK(sup_checkpoint_open(&st, &meta, bad, err, sizeof err) == SUP_ERR_FORMAT && !st);
		TU_CHECK_MSG(strstr(err, cases[i].msg) != NULL, "%s=%s: %s", cases[i].key, cases[i].value, err);
	}
	/* Missing optimizer step count: open succeeds, a training restore fails. */
	save_with_meta(good, bad, "optim.steps.model", NULL);
	TU_CHECK(sup_checkpoint_open(&st, &meta, bad, err, sizeof err) == SUP_OK);
	struct sup_model m, mom;
	struct sup_optim o;
	build(&m, 3, 1);
	build(&mom, 3, 2);
	struct sup_optim_config oc = {.kind = SUP_OPTIM_ADAM};
	TU_CHECK(sup_optim_init(&o, &m, &oc) == SUP_OK);
	struct sup_ckpt_part parts[2] = {{"model", "", &m, &o}, {"momentum", "momentum.", &mom, NULL}};
	TU_CHECK(sup_checkpoint_restore(st, parts, 2, true, err, sizeof err) == SUP_ERR_FORMAT);
	TU_CHECK_MSG(strstr(err, "optim.steps.model") != NULL, "%s", err);
	sup_safetensors_free(st);
	sup_optim_deinit(&o);
	sup_model_deinit(&m);
	sup_model_deinit(&mom);
	free(bytes);
	/* A save into a folder that does not exist fails without leaving anything. */
	struct sup_ckpt_meta wm = {.method = "toy", .config_yaml = "", .data = ""};
	struct sup_model z;
	build(&z, 2, 1);
	struct sup_ckpt_part pz = {"model", "", &z, NULL};
	snprintf(bad, sizeof bad, "%s/nope/c.safetensors", dir);
	TU_CHECK(sup_checkpoint_save(bad, &pz, 1, &wm, err, sizeof err) != SUP_OK);
	TU_CHECK(iot_count(dir, ".tmp.") == 0);
	sup_model_deinit(&z);
}

int main(void)
{
	char dir[64];
	TU_CHECK(iot_tmpdir(dir, sizeof dir) != NULL);
	test_round_trip(dir);
	test_corrupt(dir);
	iot_rmdir(dir);
	return tu_finish("io/checkpoint");
}
