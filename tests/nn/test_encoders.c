/* Image encoders: parameter counts and names against torchvision, FLOP counts, output shapes,
 * gradients (directional derivative in f64), eval mode independent of the batch, and each
 * encoder overfitting a small labelled batch. */
#include "testutil.h"
#include "selfsup/optim.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void)
{
	struct timespec t;
	timespec_get(&t, TIME_UTC);
	return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int64_t count_params(const struct sup_model *m)
{
	int64_t n = 0;
	for (int i = 0; i < m->n_entries; i++)
		if (m->entries[i].kind == SUP_KIND_PARAM)
			n += sup_tensor_numel(&m->entries[i].t);
	return n;
}

static const struct sup_tensor *declared(const struct sup_model *m, const char *name)
{
	int i = sup_model_find(m, name);
	return i >= 0 ? &m->entries[i].t : NULL;
}

static bool has_shape(const struct sup_model *m, const char *name, int ndim, const int64_t *shape)
{
	const struct sup_tensor *t = declared(m, name);
	if (!t || t->ndim != ndim)
		return false;
	for (int i = 0; i < ndim; i++)
		if (t->shape[i] != shape[i])
			return false;
	return true;
}

/* Declaring is enough to count: the 25M-parameter ResNet-50 is never allocated here. The
 * reference counts are sum(p.numel() for p in torchvision.models.resnetXX().parameters()),
 * and for the CIFAR variant conv1 = Conv2d(3, 64, 3, 1, 1, bias=False), maxpool = Identity,
 * fc = Linear(512, 10). */
static void test_param_counts(void)
{
	static const struct {
		int depth;
		enum sup_resnet_stem stem;
		int64_t classes, params;
		/* Forward GFLOPs of one image (224x224 ImageNet, 32x32 CIFAR): 2 x the GMACs torchvision's
		 * model documentation lists (1.814, 3.664, 4.089), and 0.556 GMACs for the CIFAR variant. */
		double gflops;
	} cases[] = {
		{ 18, SUP_RESNET_STEM_CIFAR, 10, 11173962, 1.112 },
		{ 18, SUP_RESNET_STEM_IMAGENET, 1000, 11689512, 3.628 },
		{ 34, SUP_RESNET_STEM_IMAGENET, 1000, 21797672, 7.328 },
		{ 50, SUP_RESNET_STEM_IMAGENET, 1000, 25557032, 8.178 },
	};
	for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		struct sup_model m;
		sup_model_init(&m, sup_allocator_default());
		struct sup_resnet r;
		const struct sup_resnet_config cfg = { .depth = cases[k].depth, .stem = cases[k].stem,
						       .num_classes = cases[k].classes };
		TU_CHECK(sup_resnet_declare(&r, &m, "", &cfg) == 0);
		TU_CHECK_MSG(count_params(&m) == cases[k].params, "resnet%d: %lld parameters, want %lld", cases[k].depth,
			     (long long)count_params(&m), (long long)cases[k].params);
		TU_CHECK(r.feat_dim == (cases[k].depth == 50 ? 2048 : 512));
		/* Within 1%: the published numbers are rounded and may include small extra terms. */
		int64_t hw = cases[k].stem == SUP_RESNET_STEM_CIFAR ? 32 : 224;
		double gf = sup_resnet_flops(&r, 1, hw, hw) / 1e9;
		TU_CHECK_MSG(fabs(gf - cases[k].gflops) < 0.01 * cases[k].gflops, "resnet%d: %.4f GFLOPs", cases[k].depth, gf);
		sup_model_deinit(&m);
	}
}

/* torchvision names and shapes, under a prefix as methods use them; the ConvNet; the selector. */
static void test_names(void)
{
	struct sup_model m;
	sup_model_init(&m, sup_allocator_default());
	struct sup_resnet r;
	sup_resnet_declare(&r, &m, "encoder", &(struct sup_resnet_config){ .depth = 50, .num_classes = 1000 });
	TU_CHECK(has_shape(&m, "encoder.conv1.weight", TU_SHAPE(64, 3, 7, 7)));
	TU_CHECK(declared(&m, "encoder.bn1.running_mean") && declared(&m, "encoder.bn1.running_var"));
	TU_CHECK(has_shape(&m, "encoder.layer1.0.conv1.weight", TU_SHAPE(64, 64, 1, 1)));
	TU_CHECK(has_shape(&m, "encoder.layer1.0.conv3.weight", TU_SHAPE(256, 64, 1, 1)));
	TU_CHECK(has_shape(&m, "encoder.layer1.0.downsample.0.weight", TU_SHAPE(256, 64, 1, 1)));
	TU_CHECK(has_shape(&m, "encoder.layer2.0.conv2.weight", TU_SHAPE(128, 128, 3, 3)));
	TU_CHECK(r.blocks[3].conv2.args.stride[0] == 2 && r.blocks[3].conv1.args.stride[0] == 1); /* v1.5 */
	TU_CHECK(has_shape(&m, "encoder.layer2.0.downsample.1.weight", TU_SHAPE(512)));
	TU_CHECK(declared(&m, "encoder.layer4.2.bn3.bias") && !declared(&m, "encoder.layer4.3.conv1.weight"));
	TU_CHECK(has_shape(&m, "encoder.fc.weight", TU_SHAPE(1000, 2048)) && declared(&m, "encoder.fc.bias"));
	TU_CHECK(!declared(&m, "encoder.conv1.bias") && !declared(&m, "encoder.layer1.1.downsample.0.weight"));
	sup_model_deinit(&m);

	sup_model_init(&m, sup_allocator_default());
	sup_resnet_declare(&r, &m, "", &(struct sup_resnet_config){ .depth = 18, .stem = SUP_RESNET_STEM_CIFAR });
	TU_CHECK(has_shape(&m, "conv1.weight", TU_SHAPE(64, 3, 3, 3)) && !declared(&m, "fc.weight"));
	TU_CHECK(!declared(&m, "layer1.0.downsample.0.weight"));
	TU_CHECK(has_shape(&m, "layer2.0.downsample.0.weight", TU_SHAPE(128, 64, 1, 1)));
	TU_CHECK(declared(&m, "layer4.1.bn2.running_var") && !declared(&m, "layer4.2.conv1.weight"));
	sup_model_deinit(&m);

	/* The W1 ConvNet: 240,608 parameters (convs 288 + 18432 + 73728 + 147456, BN 2 x 352). */
	sup_model_init(&m, sup_allocator_default());
	struct sup_convnet cn;
	TU_CHECK(sup_convnet_declare(&cn, &m, "encoder", &(struct sup_convnet_config){ .in_channels = 1 }) == 0);
	TU_CHECK_MSG(count_params(&m) == 240608, "convnet: %lld", (long long)count_params(&m));
	TU_CHECK(has_shape(&m, "encoder.9.weight", TU_SHAPE(128, 128, 3, 3)) && declared(&m, "encoder.10.running_mean"));
	TU_CHECK(!declared(&m, "encoder.0.bias") && cn.feat_dim == 128);
	/* 28x28 -> 28, 14, 7, 7: 2 x (288*784 + 18432*196 + 73728*49 + 147456*49) per image. */
	TU_CHECK_NEAR(sup_convnet_flops(&cn, 1, 28, 28), 2.0 * (288 * 784 + 18432 * 196 + 73728 * 49 + 147456 * 49), 0.5);
	sup_model_deinit(&m);
	sup_model_init(&m, sup_allocator_default());
	sup_convnet_declare(&cn, &m, "", &(struct sup_convnet_config){ .in_channels = 3 });
	TU_CHECK(count_params(&m) == 240608 + 2 * 32 * 9 && has_shape(&m, "0.weight", TU_SHAPE(32, 3, 3, 3)));
	sup_model_deinit(&m);

	/* The selector: names, and an unknown one is an error naming the valid ones. */
	struct sup_image_encoder e;
	sup_model_init(&m, sup_allocator_default());
	TU_CHECK(sup_image_encoder_kind_from_name("resnet34") == SUP_IMAGE_ENCODER_RESNET34);
	TU_CHECK(strcmp(sup_image_encoder_kind_name(SUP_IMAGE_ENCODER_RESNET50), "resnet50") == 0);
	TU_CHECK(sup_image_encoder_declare(&e, &m, "enc", &(struct sup_image_encoder_config){ .name = "resnet19" }) == -1);
	TU_CHECK(m.err == SUP_ERR_ARG && strstr(m.err_msg, "resnet19") && strstr(m.err_msg, "resnet50"));
	sup_model_deinit(&m);
	sup_model_init(&m, sup_allocator_default());
	TU_CHECK(sup_image_encoder_declare(&e, &m, "", &(struct sup_image_encoder_config){ .name = "resnet34" }) == 0);
	TU_CHECK(e.feat_dim == 512 && count_params(&m) == 21797672 - 513000);
	sup_model_deinit(&m);
	sup_model_init(&m, sup_allocator_default());
	TU_CHECK(sup_resnet_declare(&r, &m, "", &(struct sup_resnet_config){ .depth = 101 }) == -1 && m.err == SUP_ERR_ARG);
	sup_model_deinit(&m);
}

/* ---- one built model per encoder ---------------------------------------------------------------
 * Building a ResNet (millions of normal draws) dominates the run time, so each encoder is built
 * once, with a 10-way Linear head beside it, and every behaviour check runs on that model;
 * the overfit check trains it and comes last. */

struct enc_case {
	const char *what;
	struct sup_image_encoder_config cfg;
	int64_t n, ch, hw; /* the gradcheck's input (training mode; eval mode uses n = 2) */
	bool grad_train;   /* also gradcheck training mode (see gradcheck_encoder) */
	bool behaviour;    /* eval-mode and overfit checks */
};

struct fixture {
	struct sup_model m;
	struct sup_image_encoder e;
	struct sup_linear head;
};

static bool fixture_build(struct fixture *f, const struct enc_case *k, uint64_t seed)
{
	sup_model_init(&f->m, sup_allocator_default());
	sup_image_encoder_declare(&f->e, &f->m, "encoder", &k->cfg);
	sup_linear_declare(&f->head, &f->m, "head", f->e.feat_dim, 10, true);
	/* ResNet-34/50: uniform draws of the same variance as the kaiming normal ones, which take
	 * most of this program's time otherwise (the ResNet-18 keeps the real initialiser and is
	 * where it is checked). */
	for (int i = 0; f->e.kind >= SUP_IMAGE_ENCODER_RESNET34 && i < f->m.n_entries; i++) {
		struct sup_model_entry *en = &f->m.entries[i];
		if (en->init == SUP_INIT_KAIMING_NORMAL) {
			const int64_t fan_out = en->t.shape[0] * en->t.shape[2] * en->t.shape[3];
			en->init = SUP_INIT_UNIFORM;
			en->init_a = sqrt(3.0 * 2.0 / (double)fan_out);
		}
	}
	struct sup_rng rng = sup_rng_make(seed, 0);
	bool ok = sup_model_build(&f->m, &rng) == SUP_OK;
	TU_CHECK_MSG(ok, "%s: %s", k->what, f->m.err_msg);
	return ok;
}

/* Output shape, FLOPs, and a wrong channel count as a sticky conv2d error. */
static void check_shapes(struct fixture *f, const struct enc_case *k, int64_t n, int64_t hw)
{
	struct sup_ctx c;
	tu_ctx(&c, 1);
	struct sup_rng r = sup_rng_make(5, 0);
	sup_model_set_training(&f->m, true);
	sup_no_grad_begin(&c);
	struct sup_tensor *x = tu_rand(&c, &r, SUP_F32, 4, (const int64_t[]){ n, k->ch, hw, hw }, -1, 1);
	struct sup_tensor *y = sup_image_encoder_forward(&c, &f->m, &f->e, x);
	TU_CHECK_MSG(sup_ctx_status(&c) == SUP_OK && y && y->ndim == 2 && y->shape[0] == n && y->shape[1] == f->e.feat_dim,
		     "%s: %s", k->what, sup_ctx_error(&c));
	TU_CHECK_MSG(sup_image_encoder_flops(&f->e, n, hw, hw) > 0, "%s", k->what);
	x = tu_rand(&c, &r, SUP_F32, 4, (const int64_t[]){ n, k->ch + 1, hw, hw }, -1, 1);
	TU_CHECK(sup_image_encoder_forward(&c, &f->m, &f->e, x) == NULL && strstr(sup_ctx_error(&c), "conv2d"));
	sup_ctx_reset(&c);
	if (f->e.kind != SUP_IMAGE_ENCODER_CONVNET) {
		/* The ResNet's own head: logits, or an error without one. */
		struct sup_resnet rn = f->e.u.resnet;
		x = tu_rand(&c, &r, SUP_F32, 4, (const int64_t[]){ n, k->ch, hw, hw }, -1, 1);
		TU_CHECK(sup_resnet_logits(&c, &f->m, &rn, x) == NULL && strstr(sup_ctx_error(&c), "head"));
		sup_ctx_reset(&c);
		rn.cfg.num_classes = 10; /* borrow the fixture's head as the "fc" */
		rn.fc = f->head;
		y = sup_resnet_logits(&c, &f->m, &rn, x);
		TU_CHECK(y && y->shape[0] == n && y->shape[1] == 10);
	}
	sup_no_grad_end(&c);
	sup_ctx_deinit(&c);
}

/* torchvision's init: conv weights N(0, 2 / fan_out), BN weight 1, bias 0. */
static void check_resnet_init(struct fixture *f)
{
	struct sup_model *m = &f->m;
	const struct sup_tensor *w = sup_model_tensor(m, sup_model_find(m, "encoder.layer3.0.conv1.weight"));
	TU_CHECK(w->shape[0] == 256 && w->shape[2] == 3);
	double s = 0, mean = 0, var = 2.0 / (256 * 9);
	int64_t n = sup_tensor_numel(w);
	for (int64_t i = 0; i < n; i++) {
		double v = sup_tensor_get(w, i);
		s += v * v;
		mean += v;
	}
	TU_CHECK_NEAR(s / (double)n, var, 0.03 * var);
	TU_CHECK(fabs(mean / (double)n) < 4 * sqrt(var / (double)n));
	const struct sup_tensor *g = sup_model_tensor(m, sup_model_find(m, "encoder.layer2.0.downsample.1.weight"));
	const struct sup_tensor *b = sup_model_tensor(m, sup_model_find(m, "encoder.layer2.0.downsample.1.bias"));
	TU_CHECK(sup_tensor_get(g, 7) == 1.0 && sup_tensor_get(b, 7) == 0.0);
}

/* ---- gradient check ---------------------------------------------------------------------------
 * Model parameters are f32, where a central difference through 20-50 layers is too noisy to
 * tell a wrong gradient from rounding. So the check runs the whole encoder in f64: every model
 * tensor is swapped, in place, for an f64 copy (the ops take either dtype, f64 on the reference
 * kernels), and the directional derivative of f = sum(r * enc(x)) along a random direction v
 * over the input and all parameters at once, <grad f, v>, is compared with a central
 * difference. One direction through every parameter checks every backward on the path at the
 * cost of a few passes. */

struct f64_copy {
	struct sup_tensor *saved; /* the f32 entries, restored afterwards */
	double *data, *grad;
	unsigned char *is_param; /* per element: 1 for parameters (buffers are not differentiated) */
	int64_t *off;            /* per entry, into data/grad */
	int64_t total;
	uint64_t seed;
};

/* Direction component i, uniform in [-1, 1): a splitmix64 hash of (seed, i), recomputed where
 * needed instead of stored (25M doubles less for ResNet-50) and cheaper than the model RNG. */
static double dir_at(uint64_t seed, int64_t i)
{
	uint64_t z = seed + 0x9e3779b97f4a7c15ull * (uint64_t)(i + 1);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return (double)((z ^ (z >> 31)) >> 11) * 0x1p-52 - 1.0;
}

static void to_f64(struct sup_model *m, struct f64_copy *s, uint64_t seed)
{
	s->seed = seed;
	s->saved = malloc(sizeof *s->saved * (size_t)m->n_entries);
	s->off = malloc(sizeof *s->off * (size_t)m->n_entries);
	s->total = 0;
	for (int i = 0; i < m->n_entries; i++) {
		s->off[i] = s->total;
		s->total += sup_tensor_numel(&m->entries[i].t);
	}
	s->data = malloc(sizeof(double) * (size_t)s->total);
	s->grad = calloc((size_t)s->total, sizeof(double));
	s->is_param = malloc((size_t)s->total);
	for (int i = 0; i < m->n_entries; i++) {
		struct sup_tensor *t = &m->entries[i].t;
		const bool param = m->entries[i].kind == SUP_KIND_PARAM;
		const int64_t n = sup_tensor_numel(t);
		s->saved[i] = *t;
		for (int64_t j = 0; j < n; j++)
			s->data[s->off[i] + j] = ((const float *)t->data)[j];
		memset(s->is_param + s->off[i], param, (size_t)n);
		t->dtype = SUP_F64;
		t->data = s->data + s->off[i];
		t->grad = param ? s->grad + s->off[i] : NULL;
	}
}

static void from_f64(struct sup_model *m, struct f64_copy *s)
{
	for (int i = 0; i < m->n_entries; i++)
		m->entries[i].t = s->saved[i];
	free(s->saved);
	free(s->off);
	free(s->data);
	free(s->grad);
	free(s->is_param);
}

/* parameters += h * direction */
static void nudge_params(struct f64_copy *s, double h)
{
	for (int64_t i = 0; i < s->total; i++)
		if (s->is_param[i])
			s->data[i] += h * dir_at(s->seed, i);
}

static void nudge(double *p, const double *dir, int64_t n, double h)
{
	for (int64_t i = 0; i < n; i++)
		p[i] += h * dir[i];
}

/* f = sum(r * enc(x)) in the model's current mode. */
static double eval_f(struct sup_ctx *c, struct fixture *f, struct sup_tensor *x, struct sup_tensor *r,
		     struct sup_tensor **f_out)
{
	struct sup_tensor *y = sup_sum(c, sup_mul(c, sup_image_encoder_forward(c, &f->m, &f->e, x), r), NULL, 0, false);
	if (f_out)
		*f_out = y;
	return y ? sup_tensor_get(y, 0) : NAN;
}

/* The central difference along (vx, the parameter direction). It is wrong when it crosses a
 * ReLU or max-pool kink, i.e. when some unit's input is within about eps |d unit / d t| of
 * zero (with millions of parameters moving at once, eps = 1e-6 often does): then the one-sided
 * differences disagree, and the step shrinks. In f64 the rounding error stays below 1e-6
 * relative down to eps = 1e-10. */
static double central_difference(struct sup_ctx *c, struct fixture *f, struct f64_copy *s, struct sup_tensor *x,
				 struct sup_tensor *vx, struct sup_tensor *r, double f0)
{
	const int64_t nx = sup_tensor_numel(x);
	double numeric = NAN, moved = 0;
	sup_no_grad_begin(c);
	for (double eps = 1e-7; eps >= 1e-10 && sup_ctx_status(c) == SUP_OK; eps *= 0.1) {
		nudge(x->data, vx->data, nx, eps - moved);
		nudge_params(s, eps - moved);
		double fp = eval_f(c, f, x, r, NULL);
		nudge(x->data, vx->data, nx, -2 * eps);
		nudge_params(s, -2 * eps);
		double fm = eval_f(c, f, x, r, NULL);
		moved = -eps;
		numeric = (fp - fm) / (2 * eps);
		if (fabs((fp - f0) - (f0 - fm)) / eps <= 1e-4 * fabs(numeric) + 1e-6)
			break;
	}
	nudge(x->data, vx->data, nx, -moved);
	nudge_params(s, -moved);
	sup_no_grad_end(c);
	return numeric;
}

/* Training mode is checked only where every BN normalises over enough values: with 1x1 maps
 * in the last stages and a batch of 2-3 (the only sizes cheap enough here), BN sees 2-3 values
 * per channel, f becomes so ill-conditioned (derivatives ~1e9) that no finite difference
 * agrees, so the deep ImageNet-stem ResNets are checked in eval mode; the training-mode BN
 * backward itself is checked through the convnet and the ResNet-18, and by the op's gradcheck. */
static void gradcheck_encoder(struct fixture *f, const struct enc_case *k, bool training)
{
	struct sup_ctx c;
	tu_ctx(&c, 2);
	const double t0 = now_s();
	sup_model_set_training(&f->m, training);
	struct f64_copy s;
	to_f64(&f->m, &s, 77);
	struct sup_rng rng = sup_rng_make(8, 1);
	/* Eval mode: running statistics set here, away from (0, 1) but mild enough to keep ReLUs
	 * alive; not those of earlier checks, which depend on the thread count through rounding
	 * (and BN over 2-4 values amplifies that). */
	for (int i = 0; !training && i < f->m.n_entries; i++) {
		const struct sup_model_entry *en = &f->m.entries[i];
		bool is_var = strstr(en->name, "running_var") != NULL;
		for (int64_t j = 0; en->kind == SUP_KIND_BUFFER && j < sup_tensor_numel(&en->t); j++)
			s.data[s.off[i] + j] = is_var ? 0.5 + sup_rng_uniform(&rng) : 0.2 * sup_rng_uniform(&rng) - 0.1;
	}
	const int64_t n = training ? k->n : 2; /* eval mode needs no batch statistics */
	struct sup_tensor *x = tu_leaf(&c, &rng, 4, (const int64_t[]){ n, k->ch, k->hw, k->hw }, -1, 1);
	struct sup_tensor *r = tu_rand(&c, &rng, SUP_F64, 2, (const int64_t[]){ n, f->e.feat_dim }, -1, 1);
	struct sup_tensor *vx = tu_rand(&c, &rng, SUP_F64, 4, x->shape, -1, 1);
	struct sup_tensor *fx;
	double f0 = eval_f(&c, f, x, r, &fx);
	if (sup_backward(&c, fx) != SUP_OK || !x->grad) {
		TU_CHECK_MSG(false, "%s: %s", k->what, sup_ctx_error(&c));
		goto done;
	}
	double analytic = 0;
	for (int64_t i = 0; i < sup_tensor_numel(x); i++)
		analytic += ((const double *)x->grad)[i] * ((const double *)vx->data)[i];
	for (int64_t i = 0; i < s.total; i++)
		analytic += s.is_param[i] ? s.grad[i] * dir_at(s.seed, i) : 0.0;
	double numeric = central_difference(&c, f, &s, x, vx, r, f0);
	TU_CHECK_MSG(sup_ctx_status(&c) == SUP_OK && fabs(analytic - numeric) <= 1e-6 + 1e-6 * fabs(numeric),
		     "%s (%s): analytic %.12g numeric %.12g (%s)", k->what, training ? "train" : "eval", analytic, numeric,
		     sup_ctx_error(&c));
	TU_CHECK(fabs(numeric) > 1e-3); /* the check measured something */
	if (getenv("SELFSUP_TEST_VERBOSE"))
		printf("gradcheck %s (%s): analytic %.12g numeric %.12g, %.2f s\n", k->what, training ? "train" : "eval",
		       analytic, numeric, now_s() - t0);
done:
	from_f64(&f->m, &s);
	sup_ctx_deinit(&c);
}

/* ---- eval mode ------------------------------------------------------------------------------------
 * In eval mode BN uses the running statistics, so an image's features do not depend on the other
 * images of its batch; in training mode they do (the check that this test can fail). */
static void check_eval_independent_of_batch(struct fixture *f, const struct enc_case *k)
{
	struct sup_ctx c;
	tu_ctx(&c, 3);
	struct sup_rng r = sup_rng_make(9, 0);
	const int64_t shape[4] = { 4, k->ch, 8, 8 };
	/* A few training passes move the running statistics away from (0, 1). */
	sup_model_set_training(&f->m, true);
	sup_no_grad_begin(&c);
	for (int i = 0; i < 3; i++)
		sup_image_encoder_forward(&c, &f->m, &f->e, tu_rand(&c, &r, SUP_F32, 4, shape, 0, 2));
	struct sup_tensor *a = tu_rand(&c, &r, SUP_F32, 4, shape, 0, 2);
	struct sup_tensor *b = sup_tensor_clone(&c, a);
	/* b: the same first image, the others replaced. */
	for (int64_t i = sup_tensor_numel(a) / 4; b && i < sup_tensor_numel(b); i++)
		sup_tensor_set(b, i, 3.0 * sup_rng_uniform(&r) - 1.0);
	double diff[2];
	for (int mode = 0; mode < 2; mode++) {
		sup_model_set_training(&f->m, mode == 0);
		struct sup_tensor *ya = sup_slice(&c, sup_image_encoder_forward(&c, &f->m, &f->e, a), 0, 0, 1, 1);
		struct sup_tensor *yb = sup_slice(&c, sup_image_encoder_forward(&c, &f->m, &f->e, b), 0, 0, 1, 1);
		diff[mode] = tu_max_abs_diff(sup_contiguous(&c, ya), sup_contiguous(&c, yb));
	}
	sup_no_grad_end(&c);
	TU_CHECK_MSG(sup_ctx_status(&c) == SUP_OK, "%s", sup_ctx_error(&c));
	TU_CHECK_MSG(diff[0] > 1e-3, "%s: train mode should depend on the batch (diff %g)", k->what, diff[0]);
	TU_CHECK_MSG(diff[1] < 1e-5, "%s: eval mode depends on the batch (diff %g)", k->what, diff[1]);
	sup_ctx_deinit(&c);
}

/* ---- overfitting -------------------------------------------------------------------------------
 * Encoder + Linear head on 16 random 8x8 images with random labels (10 classes): Adam must reach
 * 100% training accuracy (> 99% of 16) within max_steps. Accuracy is measured in training mode
 * on the same batch, the batch the BN statistics come from. */
static void check_overfit(struct fixture *f, const struct enc_case *k, int max_steps, double lr)
{
	enum { N = 16, HW = 8, MAX_CH = 3 };
	struct sup_ctx c;
	tu_ctx(&c, 4);
	sup_model_set_training(&f->m, true);
	sup_model_zero_grad(&f->m);
	struct sup_optim o;
	TU_CHECK(sup_optim_init(&o, &f->m, &(struct sup_optim_config){ .kind = SUP_OPTIM_ADAM }) == SUP_OK);
	struct sup_rng r = sup_rng_make(13, 0);
	float xs[N * MAX_CH * HW * HW];
	int64_t ys[N];
	TU_CHECK(k->ch <= MAX_CH);
	for (int64_t i = 0; i < N * k->ch * HW * HW; i++)
		xs[i] = 2.0f * sup_rng_uniform(&r) - 1.0f;
	for (int i = 0; i < N; i++)
		ys[i] = (int64_t)sup_rng_below(&r, 10);
	int step, correct = 0;
	double loss = NAN, first_loss = NAN;
	for (step = 0; step < max_steps; step++) {
		struct sup_tensor *x = sup_tensor_wrap(&c, SUP_F32, 4, (const int64_t[]){ N, k->ch, HW, HW }, xs);
		struct sup_tensor *y = sup_tensor_wrap(&c, SUP_I64, 1, (const int64_t[]){ N }, ys);
		struct sup_tensor *logits = sup_linear_forward(&c, &f->m, &f->head, sup_image_encoder_forward(&c, &f->m, &f->e, x));
		struct sup_tensor *l = sup_cross_entropy(&c, logits, y, -100, 0, SUP_REDUCE_MEAN);
		struct sup_tensor *pred = sup_argmax(&c, logits, 1, false);
		if (!pred || sup_backward(&c, l) != SUP_OK)
			break;
		loss = sup_tensor_get(l, 0);
		first_loss = step == 0 ? loss : first_loss;
		correct = 0;
		for (int i = 0; i < N; i++)
			correct += sup_tensor_get(pred, i) == (double)ys[i];
		sup_ctx_reset(&c);
		if (correct == N)
			break; /* predictions of the parameters before this step's update */
		sup_optim_step(&o, lr);
		sup_model_zero_grad(&f->m);
	}
	TU_CHECK_MSG(sup_ctx_status(&c) == SUP_OK, "%s: %s", k->what, sup_ctx_error(&c));
	TU_CHECK_MSG(correct == N, "%s: %d/%d correct after %d steps (loss %.4f)", k->what, correct, N, step, loss);
	TU_CHECK_MSG(step > 0 && loss < first_loss, "%s: loss %.4f -> %.4f in %d steps", k->what, first_loss, loss, step);
	if (getenv("SELFSUP_TEST_VERBOSE"))
		printf("overfit %s: %d steps, loss %.4f -> %.4f\n", k->what, step, first_loss, loss);
	sup_optim_deinit(&o);
	sup_ctx_deinit(&c);
}

static void test_encoder(const struct enc_case *k)
{
	struct fixture f;
	double t0 = now_s();
	if (fixture_build(&f, k, 21)) {
		if (getenv("SELFSUP_TEST_VERBOSE"))
			printf("%s: built in %.2f s\n", k->what, now_s() - t0);
		check_shapes(&f, k, 2, k->hw);
		if (k->cfg.name && strcmp(k->cfg.name, "convnet") == 0)
			check_shapes(&f, k, 2, 28); /* W1's Fashion-MNIST size */
		if (f.e.kind == SUP_IMAGE_ENCODER_RESNET18)
			check_resnet_init(&f);
		gradcheck_encoder(&f, k, false);
		if (k->grad_train)
			gradcheck_encoder(&f, k, true);
		if (k->behaviour) {
			check_eval_independent_of_batch(&f, k);
			check_overfit(&f, k, 100, f.e.kind == SUP_IMAGE_ENCODER_CONVNET ? 1e-2 : 1e-3);
		}
	}
	if (getenv("SELFSUP_TEST_VERBOSE"))
		printf("%s: %.2f s in all\n", k->what, now_s() - t0);
	sup_model_deinit(&f.m);
}

int main(void)
{
	test_param_counts();
	test_names();
	const struct enc_case cases[] = {
		{ "convnet", { .name = "convnet" }, 3, 1, 8, true, true },
		{ "resnet18 cifar", { .name = "resnet18", .cifar_stem = true }, 4, 3, 4, true, true },
		{ "resnet34 imagenet", { .name = "resnet34", .in_channels = 2 }, 2, 2, 16, false, false },
		{ "resnet50 imagenet", { .name = "resnet50", .in_channels = 1 }, 2, 1, 16, false, false },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		test_encoder(&cases[i]);
	return tu_finish("encoders");
}
