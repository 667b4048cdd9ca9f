/* SimCLR and MoCo (src/methods/simclr.c, moco.c) on tiny images, through the method interface:
 * - one SimCLR step: the reported loss equals an independent computation (the W1 ConvNet and
 *   projector rebuilt from raw ops by tensor name, then NT-Xent as explicit loops in double);
 * - MoCo: the keys enter the queue FIFO (rows, pointer, wrap-around), they are the normalised
 *   outputs of the key encoder, and after a step theta_k = m theta_k' + (1 - m) theta_q;
 * - symmetric MoCo: the loss is InfoNCE(q1, k2) + InfoNCE(q2, k1) against the queue before the
 *   step, and both views' keys enter the queue, the first view's first;
 * - a few steps lower the loss; two runs with one seed are bit-identical;
 * - through the driver (`selfsup train` on a small IDX folder): an interrupted and resumed MoCo
 *   run ends bit-identical to an uninterrupted one, queue included. */
#define _POSIX_C_SOURCE 200809L

#include "selfsup/losses.h"
#include "selfsup/method.h"
#include "testutil.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern const struct sup_method sup_method_simclr, sup_method_moco, sup_method_mocov2;

#define HW 12 /* image side: the ConvNet's strides leave 3x3 */

static struct sup_config *make_config(const struct sup_method *m, const char *const *kv)
{
	const struct sup_cfg_key *schemas[2] = {sup_config_common_keys(), m->config};
	struct sup_config *cfg = NULL;
	char err[256];
	if (sup_config_new(&cfg, schemas, 2, err, sizeof err) != SUP_OK) {
		fprintf(stderr, "config: %s\n", err);
		return NULL;
	}
	for (int i = 0; kv && kv[i]; i++)
		if (sup_config_override(cfg, kv[i], err, sizeof err) != SUP_OK)
			fprintf(stderr, "config %s: %s\n", kv[i], err);
	return cfg;
}

static void *make_method(const struct sup_method *m, struct sup_config *cfg, uint64_t seed)
{
	const struct sup_data_info info = {.name = "tiny", .modality = SUP_MODALITY_IMAGE, .n_examples = 64,
					   .n_classes = 2, .channels = 1, .height = HW, .width = HW};
	struct sup_rng r = sup_rng_make(seed, 1);
	void *state = NULL;
	char err[256];
	if (m->init(&state, cfg, &info, &r, err, sizeof err) != SUP_OK)
		fprintf(stderr, "init: %s\n", err);
	return state;
}

/* Batch of n images with two views: image i is smooth noise of its own, view 2 adds a small
 * perturbation (an augmentation stand-in with the same identity). */
static void make_batch(struct sup_ctx *c, int64_t n, int64_t first, struct sup_method_batch *b)
{
	memset(b, 0, sizeof *b);
	b->kind = SUP_BATCH_IMAGES;
	b->n_views = 2;
	for (int v = 0; v < 2; v++) {
		b->views[v] = sup_tensor_new(c, SUP_F32, 4, (const int64_t[]){n, 1, HW, HW});
		for (int64_t i = 0; i < n; i++) {
			struct sup_rng ri = sup_rng_make(1000 + first + i, 0), rv = sup_rng_make(2000 + first + i, (uint64_t)v);
			for (int64_t p = 0; p < HW * HW; p++) {
				double x = sup_rng_uniform(&ri) + 0.15 * sup_rng_uniform(&rv);
				((float *)b->views[v]->data)[i * HW * HW + p] = (float)(x / 1.15);
			}
		}
	}
}

static struct sup_model *part_model(const struct sup_method *m, void *state, int i)
{
	struct sup_ckpt_part parts[SUP_MAX_PARTS];
	int n = m->parts(state, parts, SUP_MAX_PARTS);
	return i < n ? parts[i].model : NULL;
}

static struct sup_tensor *T(struct sup_model *m, const char *name)
{
	int i = sup_model_find(m, name);
	TU_CHECK_MSG(i >= 0, "no tensor %s", name);
	return i >= 0 ? sup_model_tensor(m, i) : NULL;
}

/* The W1 ConvNet (docs/nn/encoders.md) from raw ops: conv3x3 (strides 1, 2, 2, 1) + BN with
 * batch statistics + ReLU, four times, then the mean over H and W. No running statistics. */
static struct sup_tensor *ref_convnet(struct sup_ctx *c, struct sup_model *m, const char *pre, struct sup_tensor *x)
{
	static const int stride[4] = {1, 2, 2, 1};
	const struct sup_batch_norm_args bn = {.training = true, .momentum = 0.1, .eps = 1e-5};
	char a[64], b[64], d[64];
	for (int i = 0; i < 4; i++) {
		snprintf(a, sizeof a, "%sencoder.%d.weight", pre, 3 * i);
		snprintf(b, sizeof b, "%sencoder.%d.weight", pre, 3 * i + 1);
		snprintf(d, sizeof d, "%sencoder.%d.bias", pre, 3 * i + 1);
		const struct sup_conv2d_args ca = {.stride = {stride[i], stride[i]}, .padding = {1, 1}};
		x = sup_relu(c, sup_batch_norm(c, sup_conv2d(c, x, T(m, a), NULL, &ca), T(m, b), T(m, d), NULL, NULL, &bn));
	}
	return sup_mean(c, x, (const int[]){2, 3}, 2, false);
}

/* NT-Xent of z [2N, D] as loops in double (SimCLR eq. 1). */
static double naive_nt_xent(const struct sup_tensor *z)
{
	const int64_t n2 = z->shape[0], d = z->shape[1];
	double *u = malloc(sizeof(double) * (size_t)(n2 * d)), total = 0;
	for (int64_t i = 0; i < n2; i++) {
		double nn = 0;
		for (int64_t j = 0; j < d; j++)
			nn += sup_tensor_get(z, i * d + j) * sup_tensor_get(z, i * d + j);
		for (int64_t j = 0; j < d; j++)
			u[i * d + j] = sup_tensor_get(z, i * d + j) / sqrt(nn);
	}
	for (int64_t i = 0; i < n2; i++) {
		double den = 0, pos = 0;
		for (int64_t k = 0; k < n2; k++) {
			double s = 0;
			for (int64_t j = 0; j < d; j++)
				s += u[i * d + j] * u[k * d + j];
			if (k != i)
				den += exp(s / 0.5);
			if (k == (i + n2 / 2) % n2)
				pos = s / 0.5;
		}
		total += log(den) - pos;
	}
	free(u);
	return total / (double)n2;
}

static void test_simclr_step_matches_reference(void)
{
	const struct sup_method *m = &sup_method_simclr;
	struct sup_config *cfg = make_config(m, (const char *const[]){"tau=0.5", NULL});
	void *s = make_method(m, cfg, 7);
	TU_CHECK(s != NULL);
	struct sup_ctx c;
	tu_ctx(&c, 1);
	struct sup_method_batch b;
	make_batch(&c, 6, 0, &b);
	struct sup_model *model = part_model(m, s, 0);
	/* Independent forward with the parameters before the step. */
	sup_no_grad_begin(&c);
	struct sup_tensor *x = sup_concat(&c, (struct sup_tensor *const[]){b.views[0], b.views[1]}, 2, 0);
	struct sup_tensor *h = ref_convnet(&c, model, "", x);
	const struct sup_batch_norm_args bn = {.training = true, .momentum = 0.1, .eps = 1e-5};
	struct sup_tensor *z = sup_matmul(&c, h, T(model, "projector.0.weight"), false, true);
	z = sup_relu(&c, sup_batch_norm(&c, z, T(model, "projector.1.weight"), T(model, "projector.1.bias"), NULL, NULL,
					&bn));
	z = sup_add(&c, sup_matmul(&c, z, T(model, "projector.3.weight"), false, true), T(model, "projector.3.bias"));
	sup_no_grad_end(&c);
	TU_CHECK(z && z->shape[0] == 12 && z->shape[1] == 64);
	double want = z ? naive_nt_xent(z) : NAN;
	struct sup_step_info si = {0, 0, 10, 1e-3};
	struct sup_step_stats st = {0};
	TU_CHECK(m->train_step(s, &c, &b, &si, &st) == SUP_OK);
	TU_CHECK_NEAR(st.loss, want, 2e-5);
	TU_CHECK(st.n == 3 && strcmp(st.names[0], "acc") == 0);
	/* The representation is the encoder output (128-d), in eval mode. */
	sup_ctx_reset(&c);
	make_batch(&c, 5, 0, &b);
	struct sup_tensor *r = m->encode(s, &c, &b);
	TU_CHECK(r && r->ndim == 2 && r->shape[0] == 5 && r->shape[1] == 128);
	sup_ctx_deinit(&c);
	m->free(s);
	sup_config_free(cfg);
}

/* Losses of `steps` steps of method m over a cycle of 32 tiny images (batch 8). */
static void run_steps(const struct sup_method *m, const char *const *kv, int steps, double *loss, float *param0)
{
	struct sup_config *cfg = make_config(m, kv);
	void *s = make_method(m, cfg, 3);
	struct sup_ctx c;
	tu_ctx(&c, 5);
	for (int t = 0; s && t < steps; t++) {
		struct sup_method_batch b;
		make_batch(&c, 8, (t % 4) * 8, &b);
		struct sup_step_info si = {0, t, steps, 3e-3};
		struct sup_step_stats st = {0};
		TU_CHECK(m->train_step(s, &c, &b, &si, &st) == SUP_OK);
		loss[t] = st.loss;
		sup_ctx_reset(&c);
	}
	if (s)
		*param0 = part_model(m, s, 0)->params[0];
	sup_ctx_deinit(&c);
	m->free(s);
	sup_config_free(cfg);
}

static void test_loss_decreases_and_determinism(void)
{
	static const char *const sim[] = {"optim.kind=adam", "batch_size=8", NULL};
	static const char *const mo[] = {"optim.kind=adam", "batch_size=8", "queue_size=16", "bn_splits=2", "tau=0.2", NULL};
	const struct {
		const struct sup_method *m;
		const char *const *kv;
	} cases[] = {{&sup_method_simclr, sim}, {&sup_method_mocov2, mo}};
	for (int k = 0; k < 2; k++) {
		double a[24], b[24];
		float pa = 0, pb = 1;
		run_steps(cases[k].m, cases[k].kv, 24, a, &pa);
		run_steps(cases[k].m, cases[k].kv, 24, b, &pb);
		double first = (a[0] + a[1] + a[2] + a[3]) / 4, last = (a[20] + a[21] + a[22] + a[23]) / 4;
		TU_CHECK_MSG(last < 0.8 * first, "%s: loss %g -> %g", cases[k].m->name, first, last);
		TU_CHECK_MSG(memcmp(a, b, sizeof a) == 0 && pa == pb, "%s: two runs differ", cases[k].m->name);
	}
}

static void test_moco_queue_and_ema(void)
{
	const struct sup_method *m = &sup_method_moco;
	struct sup_config *cfg =
	    make_config(m, (const char *const[]){"batch_size=5", "queue_size=12", "bn_splits=1", "momentum=0.9", "dim=16", NULL});
	void *s = make_method(m, cfg, 9);
	TU_CHECK(s != NULL);
	struct sup_model *q = part_model(m, s, 0), *k = part_model(m, s, 1), *qm = part_model(m, s, 2);
	TU_CHECK(q && k && qm && q->n_params == k->n_params);
	struct sup_tensor *queue = T(qm, "queue"), *ptr = T(qm, "queue_ptr");
	TU_CHECK(queue->shape[0] == 12 && queue->shape[1] == 16);
	/* The key encoder starts as a copy; the queue as random unit vectors. */
	TU_CHECK(memcmp(q->params, k->params, sizeof(float) * (size_t)q->n_params) == 0);
	double n0 = 0;
	for (int j = 0; j < 16; j++)
		n0 += sup_tensor_get(queue, j) * sup_tensor_get(queue, j);
	TU_CHECK_NEAR(n0, 1.0, 1e-5);
	float *before = malloc(sizeof(float) * (size_t)(12 * 16)), *kold = malloc(sizeof(float) * (size_t)k->n_params);
	memcpy(before, queue->data, sizeof(float) * 12 * 16);
	memcpy(kold, k->params, sizeof(float) * (size_t)k->n_params);
	struct sup_ctx c;
	tu_ctx(&c, 2);
	struct sup_method_batch b;
	make_batch(&c, 5, 0, &b);
	/* Expected keys: the key encoder (before the step) with batch statistics, head, normalised. */
	sup_no_grad_begin(&c);
	struct sup_tensor *h = ref_convnet(&c, k, "", b.views[1]);
	struct sup_tensor *kk = sup_add(&c, sup_matmul(&c, h, T(k, "head.0.weight"), false, true), T(k, "head.0.bias"));
	kk = sup_l2_normalize(&c, kk, 1, 1e-12);
	sup_no_grad_end(&c);
	struct sup_step_info si = {0, 0, 10, 1.0}; /* large: f_q must move well above rounding */
	struct sup_step_stats st = {0};
	TU_CHECK(m->train_step(s, &c, &b, &si, &st) == SUP_OK && isfinite(st.loss));
	double worst = 0;
	for (int64_t i = 0; i < 5 * 16; i++)
		worst = fmax(worst, fabs(sup_tensor_get(queue, i) - sup_tensor_get(kk, i)));
	TU_CHECK_MSG(worst < 1e-5, "enqueued keys differ from the key encoder's by %g", worst);
	TU_CHECK(memcmp(before + 5 * 16, (float *)queue->data + 5 * 16, sizeof(float) * 7 * 16) == 0);
	TU_CHECK(sup_tensor_get(ptr, 0) == 5);
	/* EMA (MoCo eq. 2) over every parameter. */
	worst = 0;
	double moved = 0;
	for (int64_t i = 0; i < k->n_params; i++) {
		worst = fmax(worst, fabs(k->params[i] - (0.9 * kold[i] + 0.1 * q->params[i])));
		moved = fmax(moved, fabs(q->params[i] - kold[i]));
	}
	TU_CHECK_MSG(moved > 0 && worst < 2e-3 * moved, "key encoder is not the EMA of the query encoder: %g (f_q moved %g)",
		     worst, moved);
	TU_CHECK(memcmp(q->params, kold, sizeof(float) * (size_t)q->n_params) != 0); /* f_q moved */
	/* Two more steps of 5 wrap around K = 12: rows 10, 11, 0, 1, 2 hold the third batch. */
	for (int t = 1; t < 3; t++) {
		sup_ctx_reset(&c);
		make_batch(&c, 5, 8 * t, &b);
		TU_CHECK(m->train_step(s, &c, &b, &si, &st) == SUP_OK);
		if (t == 1)
			memcpy(before, queue->data, sizeof(float) * 12 * 16);
	}
	TU_CHECK(sup_tensor_get(ptr, 0) == 3);
	TU_CHECK(memcmp(before + 3 * 16, (float *)queue->data + 3 * 16, sizeof(float) * 7 * 16) == 0);
	TU_CHECK(memcmp(before, queue->data, sizeof(float) * 3 * 16) != 0);
	free(before);
	free(kold);
	sup_ctx_deinit(&c);
	m->free(s);
	sup_config_free(cfg);
}

/* The normalised head output of the W1 ConvNet + linear head of model m (prefix "") on x. */
static struct sup_tensor *ref_embed(struct sup_ctx *c, struct sup_model *m, struct sup_tensor *x)
{
	struct sup_tensor *h = ref_convnet(c, m, "", x);
	struct sup_tensor *z = sup_add(c, sup_matmul(c, h, T(m, "head.0.weight"), false, true), T(m, "head.0.bias"));
	return sup_l2_normalize(c, z, 1, 1e-12);
}

static void test_moco_symmetric(void)
{
	const struct sup_method *m = &sup_method_moco;
	struct sup_config *cfg = make_config(
	    m, (const char *const[]){"batch_size=5", "queue_size=12", "bn_splits=1", "dim=16", "symmetric=true", NULL});
	void *s = make_method(m, cfg, 4);
	TU_CHECK(s != NULL);
	struct sup_model *q = part_model(m, s, 0), *k = part_model(m, s, 1), *qm = part_model(m, s, 2);
	struct sup_tensor *queue = T(qm, "queue");
	struct sup_ctx c;
	tu_ctx(&c, 2);
	struct sup_method_batch b;
	make_batch(&c, 5, 0, &b);
	sup_no_grad_begin(&c);
	struct sup_tensor *queue0 = sup_contiguous(&c, sup_slice(&c, queue, 0, 0, 12, 1)); /* a copy */
	struct sup_tensor *k1 = ref_embed(&c, k, b.views[0]), *k2 = ref_embed(&c, k, b.views[1]);
	struct sup_tensor *q1 = ref_embed(&c, q, b.views[0]), *q2 = ref_embed(&c, q, b.views[1]);
	const double want = sup_tensor_get(sup_info_nce_queue(&c, q1, k2, queue0, 0.07, NULL), 0) +
			    sup_tensor_get(sup_info_nce_queue(&c, q2, k1, queue0, 0.07, NULL), 0);
	sup_no_grad_end(&c);
	struct sup_step_info si = {0, 0, 10, 0.1};
	struct sup_step_stats st = {0};
	TU_CHECK(m->train_step(s, &c, &b, &si, &st) == SUP_OK);
	TU_CHECK_NEAR(st.loss, want, 1e-4);
	double worst = 0;
	for (int64_t i = 0; i < 5 * 16; i++) {
		worst = fmax(worst, fabs(sup_tensor_get(queue, i) - sup_tensor_get(k1, i)));
		worst = fmax(worst, fabs(sup_tensor_get(queue, 5 * 16 + i) - sup_tensor_get(k2, i)));
	}
	TU_CHECK_MSG(worst < 1e-5, "enqueued keys differ from the key encoder's by %g", worst);
	TU_CHECK(sup_tensor_get(T(qm, "queue_ptr"), 0) == 10);
	TU_CHECK(memcmp((float *)queue0->data + 10 * 16, (float *)queue->data + 10 * 16, sizeof(float) * 2 * 16) == 0);
	sup_ctx_deinit(&c);
	m->free(s);
	sup_config_free(cfg);
	/* A queue that one step's 2N keys would lap is refused. */
	cfg = make_config(m, (const char *const[]){"batch_size=8", "queue_size=12", "symmetric=true", NULL});
	char err[256] = "";
	const struct sup_data_info info = {.name = "tiny", .modality = SUP_MODALITY_IMAGE, .n_examples = 64,
					   .n_classes = 2, .channels = 1, .height = HW, .width = HW};
	struct sup_rng r = sup_rng_make(1, 1);
	void *bad = NULL;
	TU_CHECK(m->init(&bad, cfg, &info, &r, err, sizeof err) == SUP_ERR_ARG && !bad && strstr(err, "queue_size"));
	sup_config_free(cfg);
}

/* ---- through the driver ------------------------------------------------------------------------ */

static void test_driver_resume(void)
{
	char dir[] = "/tmp/selfsup_contrastive_XXXXXX";
	TU_CHECK(mkdtemp(dir) != NULL);
	tu_write_idx(dir, "train-images-idx3-ubyte", 64, HW, true, 1);
	tu_write_idx(dir, "train-labels-idx1-ubyte", 64, HW, false, 0);
	tu_write_idx(dir, "t10k-images-idx3-ubyte", 16, HW, true, 2);
	tu_write_idx(dir, "t10k-labels-idx1-ubyte", 16, HW, false, 0);
	const char *common = "data=. batch_size=8 queue_size=16 bn_splits=2 dim=8 epochs=2 threads=1";
	char args[512];
	snprintf(args, sizeof args, "train moco %s out=full", common);
	TU_CHECK(tu_sh(dir, SELFSUP_BIN, args) == 0);
	snprintf(args, sizeof args, "train moco %s out=part steps=11", common);
	TU_CHECK(tu_sh(dir, SELFSUP_BIN, args) == 0);
	TU_CHECK(tu_sh(dir, SELFSUP_BIN, "train moco resume=part out=resumed eval=knn") == 0);
	char pa[600], pb[600], err[256];
	snprintf(pa, sizeof pa, "%s/full/checkpoint.safetensors", dir);
	snprintf(pb, sizeof pb, "%s/resumed/checkpoint.safetensors", dir);
	struct sup_allocator al = sup_allocator_default();
	struct sup_safetensors *a = NULL, *b = NULL;
	TU_CHECK(sup_safetensors_load(&a, &al, pa, err, sizeof err) == SUP_OK);
	TU_CHECK(sup_safetensors_load(&b, &al, pb, err, sizeof err) == SUP_OK);
	const char *names[] = {"queue", "queue_ptr", "encoder.0.weight", "momentum.encoder.0.weight",
			       "momentum.encoder.1.running_mean", "head.0.weight", "optim.slot1.head.0.weight"};
	for (size_t i = 0; a && b && i < sizeof names / sizeof names[0]; i++) {
		const struct sup_tensor *ta = sup_safetensors_get(a, names[i]), *tb = sup_safetensors_get(b, names[i]);
		TU_CHECK_MSG(ta && tb && memcmp(ta->data, tb->data, sup_tensor_nbytes(ta)) == 0, "%s differs after resume",
			     names[i]);
	}
	const struct sup_tensor *ptr = a ? sup_safetensors_get(a, "queue_ptr") : NULL;
	TU_CHECK(ptr && sup_tensor_get(ptr, 0) == 0); /* 16 steps x 8 keys = 8 laps of K = 16 */
	sup_safetensors_free(a);
	sup_safetensors_free(b);
	/* The random-initialisation checkpoint (epochs=0) evaluates too. */
	TU_CHECK(tu_sh(dir, SELFSUP_BIN, "train simclr data=. batch_size=8 epochs=0 out=init eval=linear") == 0);
	snprintf(args, sizeof args, "rm -rf '%s'", dir);
	TU_CHECK(system(args) == 0);
}

int main(void)
{
	test_simclr_step_matches_reference();
	test_moco_queue_and_ema();
	test_moco_symmetric();
	test_loss_decreases_and_determinism();
	test_driver_resume();
	return tu_finish("methods/contrastive");
}
