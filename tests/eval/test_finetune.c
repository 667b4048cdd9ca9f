/* The fine-tuning protocol (src/eval/finetune.c) on tiny separable tasks built in memory: 8x8
 * texture images (4 classes) through SimCLR's W1 ConvNet, and byte sequences over 4 disjoint
 * alphabets through tiny GPT / MLM / ELECTRA encoders. Checks that it learns (test accuracy well
 * above the 0.25 of chance from a random encoder), that the encoder's weights move while the
 * method's parameters and optimizer are exactly restored afterwards, determinism under a seed,
 * that the test split never influences a choice, max_steps and patience, and errors that name
 * the method or the option. Tiny models and a few dozen steps: seconds. */
#include "testutil.h"

#include "selfsup/data.h"
#include "selfsup/eval.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

extern const struct sup_method sup_method_simclr, sup_method_moco, sup_method_gpt, sup_method_mlm, sup_method_electra,
    sup_method_pixel_baseline;

#define HW 8 /* image side */
#define TT 16 /* tokens per row */

/* An in-memory labelled split: images f32 [n, 1, HW, HW] or tokens i64 [n, TT]. */
struct mem_split {
	bool text;
	int64_t n;
	float *x;
	int64_t *ids;
	int64_t *y;
};

static enum sup_status mem_get(void *user, struct sup_ctx *c, const int64_t *idx, int64_t n, struct sup_method_batch *b)
{
	const struct mem_split *s = user;
	const int64_t d = s->text ? TT : HW * HW;
	memset(b, 0, sizeof *b);
	b->kind = s->text ? SUP_BATCH_TOKENS : SUP_BATCH_IMAGES;
	b->n_views = 1;
	b->views[0] = s->text ? sup_tensor_new(c, SUP_I64, 2, (const int64_t[]){n, TT})
			      : sup_tensor_new(c, SUP_F32, 4, (const int64_t[]){n, 1, HW, HW});
	b->labels = sup_tensor_new(c, SUP_I64, 1, (const int64_t[]){n});
	if (!b->views[0] || !b->labels)
		return sup_ctx_status(c);
	for (int64_t i = 0; i < n; i++) {
		if (idx[i] < 0 || idx[i] >= s->n)
			return sup_ctx_fail(c, SUP_ERR_ARG, "mem_get: index %lld out of range", (long long)idx[i]);
		if (s->text)
			memcpy((int64_t *)b->views[0]->data + i * d, s->ids + idx[i] * d, sizeof(int64_t) * (size_t)d);
		else
			memcpy((float *)b->views[0]->data + i * d, s->x + idx[i] * d, sizeof(float) * (size_t)d);
		((int64_t *)b->labels->data)[i] = s->y[idx[i]];
	}
	return SUP_OK;
}

/* Class k texture: 0 horizontal stripes, 1 vertical stripes, 2 checkerboard, 3 flat grey; random
 * phase and brightness, plus noise. Global pooling keeps these apart (not positions). */
static void make_images(struct mem_split *s, int64_t n, uint64_t seed)
{
	struct sup_rng r = sup_rng_make(seed, 0);
	*s = (struct mem_split){.text = false, .n = n, .x = malloc(sizeof(float) * (size_t)(n * HW * HW)),
				.y = malloc(sizeof(int64_t) * (size_t)n)};
	for (int64_t i = 0; i < n; i++) {
		int k = (int)(i % 4), ph = (int)sup_rng_below(&r, 2);
		float hi = 0.6f + 0.4f * sup_rng_uniform(&r);
		s->y[i] = k;
		for (int a = 0; a < HW; a++)
			for (int b = 0; b < HW; b++) {
				int on = k == 0 ? (a + ph) % 2 : k == 1 ? (b + ph) % 2 : k == 2 ? (a + b + ph) % 2 : -1;
				float v = on < 0 ? 0.5f * hi : (float)on * hi;
				s->x[(i * HW + a) * HW + b] = v + 0.15f * (sup_rng_uniform(&r) - 0.5f);
			}
	}
}

/* Class k rows: 6..16 bytes drawn from the 4 letters 'a' + 4k .. 'a' + 4k + 3, then [PAD]. */
static void make_text(struct mem_split *s, int64_t n, uint64_t seed)
{
	struct sup_rng r = sup_rng_make(seed, 0);
	*s = (struct mem_split){.text = true, .n = n, .ids = malloc(sizeof(int64_t) * (size_t)(n * TT)),
				.y = malloc(sizeof(int64_t) * (size_t)n)};
	for (int64_t i = 0; i < n; i++) {
		int k = (int)(i % 4), len = 6 + (int)sup_rng_below(&r, TT - 5);
		s->y[i] = k;
		for (int t = 0; t < TT; t++)
			s->ids[i * TT + t] = t < len ? 'a' + 4 * k + (int64_t)sup_rng_below(&r, 4) : SUP_TOK_PAD;
	}
}

static void mem_free(struct mem_split *s)
{
	free(s->x);
	free(s->ids);
	free(s->y);
}

static struct sup_finetune_split split_of(struct mem_split *s)
{
	return (struct sup_finetune_split){mem_get, s, s->n};
}

/* A method with its defaults plus overrides, initialised for the tiny data. */
static void *build(const struct sup_method *m, struct sup_config **cfg, const char *const *kv, bool text)
{
	static const struct sup_data_info img = {.name = "tiny-images", .modality = SUP_MODALITY_IMAGE,
						 .n_examples = 128, .n_classes = 4, .channels = 1, .height = HW,
						 .width = HW};
	static const struct sup_data_info txt = {.name = "tiny-text", .modality = SUP_MODALITY_TEXT, .n_examples = 128,
						 .n_classes = 4, .vocab_size = SUP_TOK_BYTE_VOCAB, .seq_len = TT};
	const struct sup_cfg_key *schemas[2] = {sup_config_common_keys(), m->config};
	char err[256] = "";
	TU_CHECK(sup_config_new(cfg, schemas, 2, err, sizeof err) == SUP_OK);
	for (int i = 0; kv && kv[i]; i++)
		TU_CHECK_MSG(sup_config_override(*cfg, kv[i], err, sizeof err) == SUP_OK, "%s", err);
	struct sup_rng rng = sup_rng_make(5, 1);
	void *st = NULL;
	TU_CHECK_MSG(m->init(&st, *cfg, text ? &txt : &img, &rng, err, sizeof err) == SUP_OK, "%s", err);
	return st;
}

static struct sup_ckpt_part part0(const struct sup_method *m, void *st)
{
	struct sup_ckpt_part p[SUP_MAX_PARTS];
	TU_CHECK(m->parts(st, p, SUP_MAX_PARTS) >= 1);
	return p[0];
}

/* A copy of a model's parameter and buffer blocks. */
static float *blocks(const struct sup_model *md)
{
	float *p = malloc(sizeof(float) * (size_t)(md->n_params + md->n_buffers + 1));
	memcpy(p, md->params, sizeof(float) * (size_t)md->n_params);
	memcpy(p + md->n_params, md->buffers, sizeof(float) * (size_t)md->n_buffers);
	return p;
}

static bool same_blocks(const struct sup_model *md, const float *copy)
{
	return memcmp(md->params, copy, sizeof(float) * (size_t)md->n_params) == 0 &&
	       memcmp(md->buffers, copy + md->n_params, sizeof(float) * (size_t)md->n_buffers) == 0;
}

static void image_opts(struct sup_finetune_opts *o)
{
	sup_finetune_opts_default(o);
	o->n_classes = 4;
	o->epochs = 5;
	o->batch_size = 16;
	o->lr = 3e-3;
	o->val_fraction = 0.25;
	o->seed = 11;
}

static const char *const simclr_kv[] = {"optim.kind=adam", NULL};

/* SimCLR's random W1 ConvNet learns the textures; its parameters (and BN buffers), train/eval
 * mode and its own optimizer are exactly as before afterwards; the same seed gives the same
 * numbers, bit for bit. */
static void test_images_learn_restore_determinism(void)
{
	struct sup_config *cfg = NULL;
	void *st = build(&sup_method_simclr, &cfg, simclr_kv, false);
	struct mem_split tr, te;
	make_images(&tr, 128, 1);
	make_images(&te, 64, 2);
	struct sup_finetune_split a = split_of(&tr), b = split_of(&te);
	struct sup_ckpt_part p = part0(&sup_method_simclr, st);
	float *before = blocks(p.model), *slots = malloc(sizeof(float) * (size_t)p.model->n_params);
	memcpy(slots, p.optim->slot1, sizeof(float) * (size_t)p.model->n_params);
	int64_t optim_steps = p.optim->steps;
	/* Training mode on entry (as after a training step); the protocol's first forward switches
	 * to eval mode, and the copy it restores must be the one from before that. */
	sup_model_set_training(p.model, true);
	struct sup_finetune_opts o;
	image_opts(&o);
	struct sup_finetune_result r1, r2, r3;
	char err[512] = "";
	TU_CHECK_MSG(sup_eval_finetune(&sup_method_simclr, st, &a, NULL, &b, &o, &r1, err, sizeof err) == SUP_OK, "%s",
		     err);
	TU_CHECK_MSG(r1.top1 >= 0.8, "texture test accuracy %g (chance 0.25)", r1.top1);
	TU_CHECK_MSG(r1.encoder_change > 1e-3, "the encoder did not move (relative change %g)", r1.encoder_change);
	TU_CHECK(r1.n_train == 96 && r1.n_val == 32 && r1.n_test == 64 && r1.dim == 128 && !r1.has_top5);
	TU_CHECK(r1.steps == 5 * (96 / 16) && r1.epochs_run == 5 && r1.best_epoch >= 1 && r1.best_epoch <= 5);
	TU_CHECK(r1.val_top1 >= 0 && r1.val_top1 <= 1);
	TU_CHECK_MSG(same_blocks(p.model, before), "the method's parameters or buffers were not restored");
	TU_CHECK_MSG(p.model->training, "the method's train/eval mode was not restored");
	TU_CHECK(p.optim->steps == optim_steps &&
		 memcmp(slots, p.optim->slot1, sizeof(float) * (size_t)p.model->n_params) == 0);
	TU_CHECK(sup_eval_finetune(&sup_method_simclr, st, &a, NULL, &b, &o, &r2, err, sizeof err) == SUP_OK);
	TU_CHECK_MSG(r2.top1 == r1.top1 && r2.train_loss == r1.train_loss && r2.val_top1 == r1.val_top1 &&
			 r2.encoder_change == r1.encoder_change && r2.best_epoch == r1.best_epoch,
		     "same seed, different run: loss %.9g vs %.9g", r1.train_loss, r2.train_loss);
	o.seed = 12;
	TU_CHECK(sup_eval_finetune(&sup_method_simclr, st, &a, NULL, &b, &o, &r3, err, sizeof err) == SUP_OK);
	TU_CHECK_MSG(r3.train_loss != r1.train_loss, "the seed changed nothing (loss %.9g)", r3.train_loss);
	/* keep: the best epoch's parameters stay in the method. */
	o.seed = 11;
	o.keep = true;
	TU_CHECK(sup_eval_finetune(&sup_method_simclr, st, &a, NULL, &b, &o, &r2, err, sizeof err) == SUP_OK);
	TU_CHECK(!same_blocks(p.model, before) && r2.top1 == r1.top1);
	TU_CHECK_MSG(p.model->training, "keep: the train/eval mode is not the one of entry");
	free(before);
	free(slots);
	mem_free(&tr);
	mem_free(&te);
	sup_method_simclr.free(st);
	sup_config_free(cfg);
}

/* Choices (the epoch, early stopping) depend on train and validation only: scrambling the test
 * labels changes the test accuracy and nothing else. */
static void test_test_split_makes_no_choice(void)
{
	struct sup_config *cfg = NULL;
	void *st = build(&sup_method_simclr, &cfg, simclr_kv, false);
	struct mem_split tr, te;
	make_images(&tr, 128, 1);
	make_images(&te, 64, 2);
	struct sup_finetune_split a = split_of(&tr), b = split_of(&te);
	struct sup_finetune_opts o;
	image_opts(&o);
	o.epochs = 3;
	struct sup_finetune_result r1, r2;
	char err[512] = "";
	TU_CHECK(sup_eval_finetune(&sup_method_simclr, st, &a, NULL, &b, &o, &r1, err, sizeof err) == SUP_OK);
	for (int64_t i = 0; i < te.n; i++)
		te.y[i] = (te.y[i] + 1) % 4;
	TU_CHECK(sup_eval_finetune(&sup_method_simclr, st, &a, NULL, &b, &o, &r2, err, sizeof err) == SUP_OK);
	TU_CHECK(r2.best_epoch == r1.best_epoch && r2.val_top1 == r1.val_top1 && r2.train_loss == r1.train_loss &&
		 r2.encoder_change == r1.encoder_change);
	TU_CHECK_MSG(r2.top1 < r1.top1, "scrambled test labels scored %g vs %g", r2.top1, r1.top1);
	/* max_steps ends the run (and its schedule) early; patience stops at a flat validation
	 * accuracy: a learning rate too small to change a prediction keeps epoch 1 the best. */
	o.max_steps = 4;
	TU_CHECK(sup_eval_finetune(&sup_method_simclr, st, &a, NULL, &b, &o, &r1, err, sizeof err) == SUP_OK);
	TU_CHECK(r1.steps == 4 && r1.epochs_run == 1);
	o.max_steps = 0;
	o.lr = 1e-12;
	o.patience = 1;
	o.epochs = 10;
	TU_CHECK(sup_eval_finetune(&sup_method_simclr, st, &a, NULL, &b, &o, &r1, err, sizeof err) == SUP_OK);
	TU_CHECK_MSG(r1.epochs_run == 2 && r1.best_epoch == 1, "epochs run %lld, best %lld", (long long)r1.epochs_run,
		     (long long)r1.best_epoch);
	mem_free(&tr);
	mem_free(&te);
	sup_method_simclr.free(st);
	sup_config_free(cfg);
}

/* Tiny text encoders (mean-pooled states) learn which alphabet a row is written in. */
static void test_text_methods_learn(void)
{
	static const char *const tiny[] = {"layers=1", "dim=32", "heads=2", "ffn=64", NULL};
	const struct sup_method *ms[] = {&sup_method_gpt, &sup_method_mlm, &sup_method_electra};
	struct mem_split tr, te;
	make_text(&tr, 128, 3);
	make_text(&te, 64, 4);
	struct sup_finetune_split a = split_of(&tr), b = split_of(&te);
	for (size_t k = 0; k < sizeof ms / sizeof ms[0]; k++) {
		struct sup_config *cfg = NULL;
		void *st = build(ms[k], &cfg, tiny, true);
		struct sup_ckpt_part p = part0(ms[k], st);
		float *before = blocks(p.model);
		struct sup_finetune_opts o;
		sup_finetune_opts_default(&o);
		o.n_classes = 4;
		o.epochs = 4;
		o.batch_size = 16;
		o.lr = 3e-3;
		o.optim = SUP_OPTIM_ADAMW;
		o.weight_decay = 0.01;
		o.schedule = SUP_FT_SCHED_LINEAR;
		o.warmup = 0.1;
		o.grad_clip = 1.0;
		o.val_fraction = 0.25;
		struct sup_finetune_result r;
		char err[512] = "";
		TU_CHECK_MSG(sup_eval_finetune(ms[k], st, &a, NULL, &b, &o, &r, err, sizeof err) == SUP_OK, "%s: %s",
			     ms[k]->name, err);
		TU_CHECK_MSG(r.top1 >= 0.8, "%s: test accuracy %g (chance 0.25)", ms[k]->name, r.top1);
		TU_CHECK_MSG(r.encoder_change > 1e-3, "%s: the encoder did not move (%g)", ms[k]->name, r.encoder_change);
		TU_CHECK_MSG(same_blocks(p.model, before), "%s: parameters not restored", ms[k]->name);
		free(before);
		ms[k]->free(st);
		sup_config_free(cfg);
	}
	mem_free(&tr);
	mem_free(&te);
}

/* Parameters the representation does not use (SimCLR's projector; MoCo's head, momentum encoder)
 * get no gradient from the fine-tuning loss, so no optimizer step may touch them, weight decay
 * included: with keep (no restore) they are bit-identical afterwards, while the encoder moves.
 * The unused ones are found independently: no gradient from a forward_features pass. */
static void test_unused_parameters_untouched(void)
{
	static const char *const moco_kv[] = {"optim.kind=adam", NULL};
	const struct sup_method *ms[] = {&sup_method_simclr, &sup_method_moco};
	const char *const *kvs[] = {simclr_kv, moco_kv};
	struct mem_split tr, te;
	make_images(&tr, 64, 1);
	make_images(&te, 32, 2);
	struct sup_finetune_split a = split_of(&tr), b = split_of(&te);
	for (size_t k = 0; k < sizeof ms / sizeof ms[0]; k++) {
		struct sup_config *cfg = NULL;
		void *st = build(ms[k], &cfg, kvs[k], false);
		struct sup_ckpt_part p[SUP_MAX_PARTS];
		int np = ms[k]->parts(st, p, SUP_MAX_PARTS);
		struct sup_ctx c;
		tu_ctx(&c, 4);
		struct sup_method_batch pb;
		TU_CHECK(mem_get(&tr, &c, (const int64_t[]){0, 1, 2, 3}, 4, &pb) == SUP_OK);
		for (int i = 0; i < np; i++)
			sup_model_zero_grad(p[i].model);
		struct sup_tensor *h = ms[k]->forward_features(st, &c, &pb, false);
		TU_CHECK(h && sup_backward(&c, sup_sum(&c, sup_mul(&c, h, h), NULL, 0, false)) == SUP_OK);
		float *before[SUP_MAX_PARTS];
		bool *unused[SUP_MAX_PARTS];
		for (int i = 0; i < np; i++) {
			const struct sup_model *md = p[i].model;
			before[i] = blocks(md);
			unused[i] = calloc((size_t)md->n_entries + 1, sizeof(bool));
			for (int e = 0; e < md->n_entries; e++) {
				const struct sup_model_entry *en = &md->entries[e];
				bool zero = en->kind == SUP_KIND_PARAM;
				for (int64_t j = 0; zero && j < sup_tensor_numel(&en->t); j++)
					zero = md->grads[en->offset + j] == 0;
				unused[i][e] = zero;
			}
		}
		sup_ctx_deinit(&c);
		struct sup_finetune_opts o;
		image_opts(&o);
		o.epochs = 2;
		o.optim = SUP_OPTIM_ADAMW;
		o.weight_decay = 0.5;
		o.keep = true;
		struct sup_finetune_result r;
		char err[512] = "";
		TU_CHECK_MSG(sup_eval_finetune(ms[k], st, &a, NULL, &b, &o, &r, err, sizeof err) == SUP_OK, "%s: %s",
			     ms[k]->name, err);
		TU_CHECK_MSG(r.encoder_change > 1e-3, "%s: the encoder did not move (%g)", ms[k]->name,
			     r.encoder_change);
		int n_unused = 0;
		for (int i = 0; i < np; i++) {
			const struct sup_model *md = p[i].model;
			for (int e = 0; e < md->n_entries; e++) {
				const struct sup_model_entry *en = &md->entries[e];
				if (!unused[i][e])
					continue;
				n_unused++;
				bool same = memcmp(md->params + en->offset, before[i] + en->offset,
						   sizeof(float) * (size_t)sup_tensor_numel(&en->t)) == 0;
				TU_CHECK_MSG(same, "%s: %s, which no gradient reaches, moved", ms[k]->name, en->name);
			}
			free(before[i]);
			free(unused[i]);
		}
		TU_CHECK_MSG(n_unused >= 2, "%s: only %d unused parameters", ms[k]->name, n_unused);
		ms[k]->free(st);
		sup_config_free(cfg);
	}
	mem_free(&tr);
	mem_free(&te);
}

static void expect_error(const struct sup_method *m, void *st, const struct sup_finetune_opts *o,
			 struct mem_split *tr, struct mem_split *te, const char *needle)
{
	struct sup_finetune_split a = split_of(tr), b = split_of(te);
	struct sup_finetune_result r;
	char err[512] = "";
	enum sup_status s = sup_eval_finetune(m, st, &a, NULL, &b, o, &r, err, sizeof err);
	TU_CHECK_MSG(s != SUP_OK && strstr(err, needle), "expected an error naming '%s', got %d [%s]", needle, (int)s,
		     err);
}

static void test_errors(void)
{
	struct sup_config *cfg = NULL;
	void *st = build(&sup_method_simclr, &cfg, simclr_kv, false);
	struct mem_split tr, te;
	make_images(&tr, 32, 1);
	make_images(&te, 16, 2);
	struct sup_finetune_opts o;
	image_opts(&o);
	/* A fixed random projection has nothing to train: the message names the method. */
	expect_error(&sup_method_pixel_baseline, NULL, &o, &tr, &te, "pixel_baseline");
	o.lr = 0;
	expect_error(&sup_method_simclr, st, &o, &tr, &te, "lr");
	image_opts(&o);
	o.n_classes = 1;
	expect_error(&sup_method_simclr, st, &o, &tr, &te, "n_classes");
	image_opts(&o);
	o.val_fraction = 1;
	expect_error(&sup_method_simclr, st, &o, &tr, &te, "val_fraction");
	image_opts(&o);
	o.n_classes = 3; /* label 3 exists */
	expect_error(&sup_method_simclr, st, &o, &tr, &te, "label 3");
	image_opts(&o);
	o.lr = 1e30; /* diverges: named as a loss problem, parameters still restored */
	struct sup_ckpt_part p = part0(&sup_method_simclr, st);
	float *before = blocks(p.model);
	expect_error(&sup_method_simclr, st, &o, &tr, &te, "loss");
	TU_CHECK(same_blocks(p.model, before));
	free(before);
	mem_free(&tr);
	mem_free(&te);
	sup_method_simclr.free(st);
	sup_config_free(cfg);
}

/* Every image method's forward_features is what encode computes, and gradients flow from it to
 * the method's parameters in training mode (the methods beyond SimCLR that the tests above do
 * not fine-tune). 28x28 inputs as Fashion-MNIST; one tiny batch each. */
static void test_image_methods_differentiable(void)
{
	static const struct sup_data_info info = {.name = "tiny-28", .modality = SUP_MODALITY_IMAGE, .n_examples = 64,
						  .n_classes = 4, .channels = 1, .height = 28, .width = 28};
	int checked = 0;
	for (int i = 0; i < sup_method_count(); i++) {
		const struct sup_method *m = sup_method_at(i);
		if (!(m->modalities & SUP_MODALITY_IMAGE))
			continue;
		if (!m->forward_features) {
			TU_CHECK_MSG(strcmp(m->name, "pixel_baseline") == 0, "%s has no forward_features", m->name);
			continue;
		}
		const struct sup_cfg_key *schemas[2] = {sup_config_common_keys(), m->config};
		struct sup_config *cfg = NULL;
		char err[256] = "";
		TU_CHECK(sup_config_new(&cfg, schemas, m->config ? 2 : 1, err, sizeof err) == SUP_OK);
		struct sup_rng rng = sup_rng_make(3, 1);
		void *st = NULL;
		TU_CHECK_MSG(m->init(&st, cfg, &info, &rng, err, sizeof err) == SUP_OK, "%s: %s", m->name, err);
		struct sup_ctx c;
		tu_ctx(&c, 4);
		struct sup_tensor *x = sup_tensor_new(&c, SUP_F32, 4, (const int64_t[]){4, 1, 28, 28});
		struct sup_tensor *idx = sup_tensor_new(&c, SUP_I64, 1, (const int64_t[]){4});
		sup_tensor_fill_uniform(x, &rng, 0, 1);
		for (int64_t k = 0; k < 4; k++)
			((int64_t *)idx->data)[k] = k;
		struct sup_method_batch b = {.kind = SUP_BATCH_IMAGES, .n_views = 1, .views = {x}, .index = idx};
		struct sup_tensor *e = sup_tensor_clone(&c, m->encode(st, &c, &b));
		sup_no_grad_begin(&c);
		struct sup_tensor *f0 = m->forward_features(st, &c, &b, false);
		sup_no_grad_end(&c);
		TU_CHECK_MSG(e && f0 && tu_max_abs_diff(e, f0) == 0, "%s: encode differs from forward_features", m->name);
		struct sup_ckpt_part p[SUP_MAX_PARTS];
		int np = m->parts(st, p, SUP_MAX_PARTS);
		for (int k = 0; k < np; k++)
			sup_model_zero_grad(p[k].model);
		struct sup_tensor *h = m->forward_features(st, &c, &b, true);
		TU_CHECK_MSG(h && h->ndim == 2 && h->shape[0] == 4, "%s: %s", m->name, sup_ctx_error(&c));
		double g = 0;
		if (h && sup_backward(&c, sup_sum(&c, sup_mul(&c, h, h), NULL, 0, false)) == SUP_OK)
			for (int k = 0; k < np; k++)
				for (int64_t j = 0; j < p[k].model->n_params; j++)
					g += fabs(p[k].model->grads[j]);
		TU_CHECK_MSG(g > 0 && isfinite(g), "%s: no gradient reached the parameters (%g; %s)", m->name, g,
			     sup_ctx_error(&c));
		checked++;
		sup_ctx_deinit(&c);
		m->free(st);
		sup_config_free(cfg);
	}
	TU_CHECK_MSG(checked >= 12, "only %d image methods checked", checked);
}

int main(void)
{
	test_images_learn_restore_determinism();
	test_test_split_makes_no_choice();
	test_text_methods_learn();
	test_unused_parameters_untouched();
	test_errors();
	test_image_methods_differentiable();
	return tu_finish("eval/finetune");
}
