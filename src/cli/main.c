/* The `selfsup` program. Until the first self-supervised method lands, it offers `demo`: a
 * supervised MLP trained end to end on Fashion-MNIST with the engine (ops, autograd, GEMM),
 * printed beside a linear softmax classifier and the majority-class baseline. */
/* clock_gettime is POSIX. */
#define _POSIX_C_SOURCE 200809L

#include "selfsup/autograd.h"
#include "selfsup/data.h"
#include "selfsup/ops.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct demo_opts {
	const char *data;
	int epochs, batch, hidden, threads;
	double lr, momentum;
	uint64_t seed;
};

/* A parameter with its gradient and momentum buffer (heap, model lifetime). */
struct param {
	struct sup_tensor t;
	float *grad, *vel;
};

static int param_init(struct param *p, int ndim, const int64_t *shape, struct sup_rng *r, double scale)
{
	int64_t n = sup_shape_numel(ndim, shape);
	float *w = calloc((size_t)n, sizeof(float));
	p->grad = calloc((size_t)n, sizeof(float));
	p->vel = calloc((size_t)n, sizeof(float));
	if (!w || !p->grad || !p->vel)
		return -1;
	sup_tensor_init(&p->t, SUP_F32, ndim, shape, w);
	p->t.requires_grad = true;
	if (scale > 0)
		sup_tensor_fill_uniform(&p->t, r, -scale, scale);
	return 0;
}

static void param_free(struct param *p)
{
	free(p->t.data);
	free(p->grad);
	free(p->vel);
}

/* SGD with momentum (PyTorch form: v = m v + g; w -= lr v). */
static void param_step(struct param *p, double lr, double m)
{
	float *w = p->t.data;
	int64_t n = sup_tensor_numel(&p->t);
	for (int64_t i = 0; i < n; i++) {
		p->vel[i] = (float)m * p->vel[i] + p->grad[i];
		w[i] -= (float)lr * p->vel[i];
	}
	memset(p->grad, 0, sizeof(float) * (size_t)n);
}

/* Logits of a batch: a linear model when hidden == 0, else Linear-ReLU-Linear. */
static struct sup_tensor *forward(struct sup_ctx *c, struct param *ps, int hidden, struct sup_tensor *x)
{
	if (hidden == 0)
		return sup_add(c, sup_matmul(c, x, &ps[0].t, false, false), &ps[1].t);
	struct sup_tensor *h = sup_relu(c, sup_add(c, sup_matmul(c, x, &ps[0].t, false, false), &ps[1].t));
	return sup_add(c, sup_matmul(c, h, &ps[2].t, false, false), &ps[3].t);
}

/* Images [i0, i0 + n) as f32 [n, 784] in [0, 1], in the order of perm. */
static struct sup_tensor *batch_x(struct sup_ctx *c, const struct sup_image_set *s, const int64_t *perm, int64_t i0,
				  int64_t n)
{
	int64_t d = s->images.shape[1] * s->images.shape[2] * s->images.shape[3];
	struct sup_tensor *x = sup_tensor_new(c, SUP_F32, 2, (const int64_t[]){ n, d });
	if (!x)
		return NULL;
	for (int64_t i = 0; i < n; i++) {
		const uint8_t *src = (const uint8_t *)s->images.data + perm[i0 + i] * d;
		for (int64_t j = 0; j < d; j++)
			((float *)x->data)[i * d + j] = src[j] * (1.0f / 255.0f);
	}
	return x;
}

static double evaluate(struct sup_ctx *c, struct param *ps, int hidden, const struct sup_image_set *s,
		       const int64_t *ident)
{
	int64_t n = s->labels.shape[0], correct = 0;
	sup_no_grad_begin(c);
	for (int64_t i0 = 0; i0 < n; i0 += 1000) {
		int64_t b = n - i0 < 1000 ? n - i0 : 1000;
		struct sup_tensor *pred = sup_argmax(c, forward(c, ps, hidden, batch_x(c, s, ident, i0, b)), 1, false);
		for (int64_t i = 0; pred && i < b; i++)
			correct += ((int64_t *)pred->data)[i] == ((uint8_t *)s->labels.data)[i0 + i];
		sup_ctx_reset(c);
	}
	sup_no_grad_end(c);
	return (double)correct / (double)n;
}

/* Trains one model (hidden == 0: linear) and returns its test accuracy, or a negative value
 * with a message on stderr. */
static double train_model(const struct demo_opts *o, int hidden, const struct sup_image_set *tr,
			  const struct sup_image_set *te)
{
	struct sup_ctx c;
	sup_ctx_init(&c, sup_allocator_default(), o->seed);
	struct sup_rng r = sup_rng_make(o->seed, 1);
	int64_t d = 784, k = tr->n_classes, n = tr->labels.shape[0];
	struct param ps[4];
	int np = hidden ? 4 : 2, fail = 0;
	int64_t h = hidden ? hidden : k;
	/* PyTorch's Linear default: U(-1/sqrt(fan_in), 1/sqrt(fan_in)). */
	fail |= param_init(&ps[0], 2, (const int64_t[]){ d, h }, &r, 1.0 / sqrt((double)d));
	fail |= param_init(&ps[1], 1, (const int64_t[]){ h }, &r, 1.0 / sqrt((double)d));
	if (hidden) {
		fail |= param_init(&ps[2], 2, (const int64_t[]){ h, k }, &r, 1.0 / sqrt((double)h));
		fail |= param_init(&ps[3], 1, (const int64_t[]){ k }, &r, 1.0 / sqrt((double)h));
	}
	int64_t *perm = malloc(sizeof(int64_t) * (size_t)n), *ident = malloc(sizeof(int64_t) * (size_t)n);
	double acc = -1;
	if (fail || !perm || !ident) {
		fprintf(stderr, "selfsup: out of memory\n");
		goto cleanup;
	}
	for (int64_t i = 0; i < n; i++)
		ident[i] = i;
	for (int ep = 0; ep < o->epochs; ep++) {
		sup_rng_permutation(&r, perm, n);
		double loss_sum = 0;
		int64_t steps = 0;
		for (int64_t i0 = 0; i0 + o->batch <= n; i0 += o->batch, steps++) {
			for (int i = 0; i < np; i++)
				ps[i].t.grad = ps[i].grad;
			struct sup_tensor *y = sup_tensor_new(&c, SUP_I64, 1, (const int64_t[]){ o->batch });
			for (int64_t i = 0; y && i < o->batch; i++)
				((int64_t *)y->data)[i] = ((uint8_t *)tr->labels.data)[perm[i0 + i]];
			struct sup_tensor *x = batch_x(&c, tr, perm, i0, o->batch);
			struct sup_tensor *loss = sup_cross_entropy(&c, forward(&c, ps, hidden, x), y, -100, 0.0, SUP_REDUCE_MEAN);
			if (sup_backward(&c, loss) != SUP_OK) {
				fprintf(stderr, "selfsup: %s\n", sup_ctx_error(&c));
				goto cleanup;
			}
			loss_sum += sup_tensor_get(loss, 0);
			for (int i = 0; i < np; i++)
				param_step(&ps[i], o->lr, o->momentum);
			sup_ctx_reset(&c);
		}
		fprintf(stderr, "  %s epoch %d/%d: train loss %.4f\n", hidden ? "mlp" : "linear", ep + 1, o->epochs,
			loss_sum / (double)(steps ? steps : 1));
	}
	acc = evaluate(&c, ps, hidden, te, ident);
cleanup:
	for (int i = 0; i < np; i++)
		param_free(&ps[i]);
	free(perm);
	free(ident);
	sup_ctx_deinit(&c);
	return acc;
}

static int parse_kv(struct demo_opts *o, const char *arg)
{
	const char *eq = strchr(arg, '=');
	if (!eq) {
		fprintf(stderr, "selfsup demo: expected key=value, got '%s'\n", arg);
		return -1;
	}
	size_t kl = (size_t)(eq - arg);
	const char *v = eq + 1;
	char *end = NULL;
#define KEY(name) (kl == strlen(name) && strncmp(arg, name, kl) == 0)
	if (KEY("data"))
		o->data = v;
	else if (KEY("epochs"))
		o->epochs = (int)strtol(v, &end, 10);
	else if (KEY("batch_size"))
		o->batch = (int)strtol(v, &end, 10);
	else if (KEY("hidden"))
		o->hidden = (int)strtol(v, &end, 10);
	else if (KEY("threads"))
		o->threads = (int)strtol(v, &end, 10);
	else if (KEY("lr"))
		o->lr = strtod(v, &end);
	else if (KEY("seed"))
		o->seed = strtoull(v, &end, 10);
	else {
		fprintf(stderr, "selfsup demo: unknown key '%.*s' (keys: data epochs batch_size hidden threads lr seed)\n",
			(int)kl, arg);
		return -1;
	}
#undef KEY
	if (end && (*end || end == v)) {
		fprintf(stderr, "selfsup demo: bad value '%s' for %.*s\n", v, (int)kl, arg);
		return -1;
	}
	return 0;
}

static int cmd_demo(int argc, char **argv)
{
	struct demo_opts o = { .data = "fashion-mnist", .epochs = 5, .batch = 128, .hidden = 256, .threads = 0,
			       .lr = 0.05, .momentum = 0.9, .seed = 0 };
	for (int i = 0; i < argc; i++)
		if (parse_kv(&o, argv[i]))
			return 2;
	if (o.epochs < 1 || o.batch < 1 || o.hidden < 1 || o.lr <= 0) {
		fprintf(stderr, "selfsup demo: epochs, batch_size, hidden and lr must be positive\n");
		return 2;
	}
	if (o.threads > 0)
		omp_set_num_threads(o.threads);
	const char *dir = strcmp(o.data, "fashion-mnist") == 0 ? SUP_FASHION_MNIST_DIR : o.data;
	struct sup_allocator al = sup_allocator_default();
	struct sup_image_set tr, te;
	char err[512];
	if (sup_image_set_load_idx(&tr, dir, true, &al, err, sizeof err) ||
	    sup_image_set_load_idx(&te, dir, false, &al, err, sizeof err)) {
		fprintf(stderr, "selfsup demo: %s (install Debian's dataset-fashion-mnist or pass data=DIR)\n", err);
		return 1;
	}
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	double lin = train_model(&o, 0, &tr, &te), mlp = lin >= 0 ? train_model(&o, o.hidden, &tr, &te) : -1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	int64_t counts[256] = { 0 }, best = 0;
	for (int64_t i = 0; i < tr.labels.shape[0]; i++)
		counts[((uint8_t *)tr.labels.data)[i]]++;
	for (int k = 0; k < 256; k++)
		best = counts[k] > counts[best] ? k : best;
	int64_t maj = 0;
	for (int64_t i = 0; i < te.labels.shape[0]; i++)
		maj += ((uint8_t *)te.labels.data)[i] == best;
	double majority = (double)maj / (double)te.labels.shape[0];
	sup_image_set_free(&tr, &al);
	sup_image_set_free(&te, &al);
	if (mlp < 0)
		return 1;
	printf("supervised demo on %s (%d epochs, batch %d, SGD lr %g momentum %g), test accuracy:\n", o.data, o.epochs,
	       o.batch, o.lr, o.momentum);
	printf("  majority class         %6.2f%%\n", 100 * majority);
	printf("  linear softmax         %6.2f%%\n", 100 * lin);
	printf("  MLP 784-%d-10         %6.2f%%\n", o.hidden, 100 * mlp);
	printf("  wall time %.1f s\n", (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec));
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: selfsup demo [data=fashion-mnist|DIR] [epochs=5] [batch_size=128] [hidden=256]\n"
		   "                    [lr=0.05] [seed=0] [threads=N]\n"
		   "  demo   trains a linear classifier and an MLP on an IDX image set with the selfsup\n"
		   "         engine and prints their test accuracy beside the majority-class baseline.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (strcmp(argv[1], "demo") == 0)
		return cmd_demo(argc - 2, argv + 2);
	fprintf(stderr, "selfsup: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
