/* The SimCLR step shared by W1 (simclr-convnet) and W2 (resnet18-cifar-simclr), exactly as
 * shared/WORKLOADS.md fixes it (Chen, Kornblith, Norouzi, Hinton, ICML 2020, sec. 2.1 and
 * Algorithm 1): both views of B images go through the encoder as one batch of 2B (BN statistics
 * over 2B), then the projector Linear(F, H) + BatchNorm1d + ReLU + Linear(H, P) (PyTorch's
 * nn.Linear defaults, biases included), then NT-Xent (eq. 1) over the 2B L2-normalised
 * projections with temperature tau; SGD with momentum 0.9. Augmentation is out of the timed
 * step: the 2B "views" are random images drawn once, uniform in [0, 1). */
#ifndef SELFSUP_BENCH_SIMCLR_H
#define SELFSUP_BENCH_SIMCLR_H

#include "workload.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct simclr_spec {
	struct sup_image_encoder_config enc;
	int64_t B, C, HW;     /* views of B images each, C x HW x HW */
	int64_t hidden, out;  /* projector sizes */
	double tau, lr, weight_decay;
};

struct simclr {
	struct simclr_spec spec;
	struct sup_model m;
	struct sup_image_encoder enc;
	struct sup_linear fc0, fc3; /* projector.0 and projector.3 */
	struct sup_batch_norm bn1;  /* projector.1 */
	struct sup_optim o;
	bool opt_ready;
	float *x;          /* [2B, C, HW, HW]: rows 0..B-1 view 1, B..2B-1 view 2 */
	int64_t *positive; /* [2B]: the index of each row's other view */
	uint8_t *diag;     /* [2B, 2B] identity mask */
	float minus_big;   /* the masked logit */
};

static inline void simclr_free(struct simclr *s)
{
	if (!s)
		return;
	if (s->opt_ready)
		sup_optim_deinit(&s->o);
	sup_model_deinit(&s->m);
	free(s->x);
	free(s->positive);
	free(s->diag);
	free(s);
}

/* The model's parameter, gradient and optimizer blocks come from `alloc` (tests count its calls). */
static inline struct simclr *simclr_new(const struct simclr_spec *spec, uint64_t seed, struct sup_allocator alloc,
					char *err, size_t err_size)
{
	struct simclr *s = calloc(1, sizeof *s);
	if (!s) {
		snprintf(err, err_size, "out of memory");
		return NULL;
	}
	s->spec = *spec;
	const int64_t n = 2 * spec->B, numel = n * spec->C * spec->HW * spec->HW;
	sup_model_init(&s->m, alloc);
	sup_image_encoder_declare(&s->enc, &s->m, "encoder", &spec->enc);
	sup_linear_declare(&s->fc0, &s->m, "projector.0", s->enc.feat_dim, spec->hidden, true);
	sup_batch_norm_declare(&s->bn1, &s->m, "projector.1", spec->hidden, true);
	sup_linear_declare(&s->fc3, &s->m, "projector.3", spec->hidden, spec->out, true);
	struct sup_rng r = sup_rng_make(seed, 0);
	enum sup_status st = sup_model_build(&s->m, &r);
	/* PyTorch's SGD: weight decay on every parameter, BN and biases included. */
	const struct sup_optim_config oc = { .kind = SUP_OPTIM_SGD, .momentum = 0.9, .weight_decay = spec->weight_decay };
	if (st == SUP_OK)
		st = sup_optim_init(&s->o, &s->m, &oc);
	s->opt_ready = st == SUP_OK;
	sup_model_set_training(&s->m, true);
	s->x = malloc(sizeof(float) * (size_t)numel);
	s->positive = malloc(sizeof(int64_t) * (size_t)n);
	s->diag = calloc((size_t)(n * n), 1);
	if (st != SUP_OK || !s->x || !s->positive || !s->diag) {
		snprintf(err, err_size, "%s", s->m.err ? s->m.err_msg : "out of memory");
		simclr_free(s);
		return NULL;
	}
	struct sup_rng ri = sup_rng_make(seed, 1);
	for (int64_t i = 0; i < numel; i++)
		s->x[i] = sup_rng_uniform(&ri);
	for (int64_t i = 0; i < n; i++) {
		s->positive[i] = i < spec->B ? i + spec->B : i - spec->B;
		s->diag[i * n + i] = 1;
	}
	s->minus_big = -1e9f;
	return s;
}

/* NT-Xent (SimCLR eq. 1) over z [2B, P]: with u = z / ||z||, logits = u u^T / tau with the
 * diagonal (each row's similarity with itself) masked to -1e9, and for row i the loss is the
 * cross-entropy towards its other view; the mean over the 2B rows is (1 / 2N) sum l(i, j). */
static inline struct sup_tensor *simclr_nt_xent(struct sup_ctx *c, struct simclr *s, struct sup_tensor *z)
{
	const int64_t n = 2 * s->spec.B;
	struct sup_tensor *u = sup_l2_normalize(c, z, 1, 1e-12);
	struct sup_tensor *sim = sup_mul_scalar(c, sup_matmul(c, u, u, false, true), 1.0 / s->spec.tau);
	struct sup_tensor *diag = sup_tensor_wrap(c, SUP_U8, 2, (const int64_t[]){ n, n }, s->diag);
	struct sup_tensor *big = sup_tensor_wrap(c, SUP_F32, 0, NULL, &s->minus_big);
	struct sup_tensor *logits = sup_where(c, diag, big, sim);
	struct sup_tensor *pos = sup_tensor_wrap(c, SUP_I64, 1, &n, s->positive);
	return sup_cross_entropy(c, logits, pos, -100, 0.0, SUP_REDUCE_MEAN);
}

static inline double simclr_step(struct simclr *s, struct sup_ctx *c)
{
	const struct simclr_spec *p = &s->spec;
	struct sup_model *m = &s->m;
	struct sup_tensor *x = sup_tensor_wrap(c, SUP_F32, 4, (const int64_t[]){ 2 * p->B, p->C, p->HW, p->HW }, s->x);
	struct sup_tensor *h = sup_image_encoder_forward(c, m, &s->enc, x);
	struct sup_tensor *z = sup_relu(c, sup_batch_norm_forward(c, m, &s->bn1, sup_linear_forward(c, m, &s->fc0, h)));
	z = sup_linear_forward(c, m, &s->fc3, z);
	struct sup_tensor *loss = simclr_nt_xent(c, s, z);
	sup_model_zero_grad(m);
	if (!loss || sup_backward(c, loss) != SUP_OK)
		return NAN;
	sup_optim_step(&s->o, p->lr);
	return sup_tensor_get(loss, 0);
}

/* Multiply-adds x 2 of the encoder's convolutions (sup_image_encoder_flops), the projector and
 * the 2B x 2B similarity matmul, x 3 for forward + backward. BN, ReLU, pooling, the
 * normalisation and the softmax are not counted. */
static inline double simclr_flops(const struct simclr_spec *p)
{
	struct sup_model m;
	struct sup_image_encoder e;
	sup_model_init(&m, sup_allocator_default());
	sup_image_encoder_declare(&e, &m, "", &p->enc); /* declared only: shapes, no memory */
	const double n = (double)(2 * p->B), F = (double)e.feat_dim, H = (double)p->hidden, P = (double)p->out;
	const double enc = sup_image_encoder_flops(&e, 2 * p->B, p->HW, p->HW);
	sup_model_deinit(&m);
	return 3.0 * (enc + 2.0 * n * (F * H + H * P) + 2.0 * n * n * P);
}

#endif
