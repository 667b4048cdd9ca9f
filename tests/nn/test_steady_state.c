/* Steady-state training steps make no allocator calls: small versions of the six benchmark
 * workloads (shared/WORKLOADS.md; bench/workloads/ has the full ones) run a few warm-up steps,
 * then several more steps while an allocator that counts its calls backs both the step
 * context (arena, gradient pool, oneDNN primitive cache) and the model (parameters, gradients,
 * optimizer slots). Every counted step must make zero calls.
 *
 * W1 and W2 run the real SimCLR step of bench/workloads/simclr.h on small images (so their
 * convolutions still go through the fast paths, oneDNN included where built); W3 and W4 the
 * real Transformer LM step of textlm.h on short sequences; W5 (DGI) and W6 (VAE) are rebuilt
 * here at small sizes with the same ops. Library code only: what oneDNN and OpenBLAS allocate
 * inside their own calls goes to their allocators, not through these hooks. */
#include "nntest.h"

#include "simclr.h"
#include "textlm.h"

#include <stdlib.h>
#include <string.h>

enum { WARMUP = 3, COUNTED = 3 };

struct counting {
	long allocs;
};
static void *count_alloc(void *u, size_t size, size_t align)
{
	((struct counting *)u)->allocs++;
	return sup_allocator_default().alloc(NULL, size, align);
}
static void count_free(void *u, void *p)
{
	(void)u;
	free(p);
}

/* Runs WARMUP + COUNTED steps of `step` and checks that the counted ones allocate nothing. */
static void run_steps(const char *name, struct counting *cnt, struct sup_ctx *c, double (*step)(void *, struct sup_ctx *),
		      void *state)
{
	long before = 0;
	bool finite = true;
	for (int i = 0; i < WARMUP + COUNTED; i++) {
		if (i == WARMUP)
			before = cnt->allocs;
		double loss = step(state, c);
		finite &= isfinite(loss) && sup_ctx_status(c) == SUP_OK;
		if (sup_ctx_status(c))
			fprintf(stderr, "%s: %s\n", name, sup_ctx_error(c));
		sup_ctx_reset(c);
	}
	TU_CHECK_MSG(finite, "%s: a step failed", name);
	TU_CHECK_MSG(cnt->allocs == before, "%s: %ld allocator calls in %d steady-state steps", name,
		     cnt->allocs - before, COUNTED);
	printf("%s: %ld allocator calls in warm-up, %ld after\n", name, before, cnt->allocs - before);
}

static double simclr_step_fn(void *s, struct sup_ctx *c)
{
	return simclr_step(s, c);
}

static void test_simclr(const char *name, const struct simclr_spec *spec)
{
	struct counting cnt = { 0 };
	const struct sup_allocator al = { count_alloc, count_free, &cnt };
	char err[512] = "";
	struct simclr *s = simclr_new(spec, 3, al, err, sizeof err);
	TU_CHECK_MSG(s != NULL, "%s: %s", name, err);
	if (!s)
		return;
	struct sup_ctx c;
	sup_ctx_init(&c, al, 1);
	run_steps(name, &cnt, &c, simclr_step_fn, s);
	sup_ctx_deinit(&c);
	simclr_free(s);
}

static double textlm_step_fn(void *s, struct sup_ctx *c)
{
	return textlm_step(s, c);
}

/* W3 (masked: every 5th position has a target, the rest are ignored) or W4 (causal, every
 * position predicts the next byte). */
static void test_textlm(const char *name, bool causal)
{
	struct counting cnt = { 0 };
	const struct sup_allocator al = { count_alloc, count_free, &cnt };
	char err[512] = "";
	const int64_t B = 2, T = 24;
	struct textlm *s = textlm_new(B, T, causal, 4, al, err, sizeof err);
	TU_CHECK_MSG(s != NULL, "%s: %s", name, err);
	if (!s)
		return;
	for (int64_t i = 0; i < B * T; i++) {
		s->ids[i] = (i * 37) % 256;
		s->targets[i] = causal ? (i * 37 + 37) % 256 : i % 5 == 0 ? s->ids[i] : TEXTLM_IGNORE;
		if (!causal && i % 5 == 0)
			s->ids[i] = TEXTLM_MASK;
	}
	struct sup_ctx c;
	sup_ctx_init(&c, al, 1);
	run_steps(name, &cnt, &c, textlm_step_fn, s);
	sup_ctx_deinit(&c);
	textlm_free(s);
}

/* ---- W5: DGI on a small random graph ----------------------------------------------------------- */

enum { G_N = 40, G_F = 30, G_D = 16 };

struct dgi {
	struct sup_model m;
	struct sup_gcn_encoder enc;
	struct sup_bilinear disc;
	struct sup_optim o;
	struct sup_csr adj, x, xp;
	int64_t a_indptr[G_N + 1], x_indptr[G_N + 1], xp_indptr[G_N + 1], perm[G_N];
	int32_t a_indices[3 * G_N], x_indices[4 * G_N], xp_indices[4 * G_N];
	float a_values[3 * G_N], x_values[4 * G_N], xp_values[4 * G_N], labels[2 * G_N];
	struct sup_rng rng;
};

/* A ring with self loops (weights 1/3) and 4 features per node. */
static void dgi_graph(struct dgi *s)
{
	for (int i = 0; i < G_N; i++) {
		s->a_indptr[i] = 3 * i;
		const int32_t nb[3] = { (i + G_N - 1) % G_N, i, (i + 1) % G_N };
		for (int k = 0; k < 3; k++) {
			s->a_indices[3 * i + k] = nb[k];
			s->a_values[3 * i + k] = 1.0f / 3.0f;
		}
		s->x_indptr[i] = 4 * i;
		for (int k = 0; k < 4; k++) {
			s->x_indices[4 * i + k] = (int32_t)((i * 7 + k * 5) % G_F);
			s->x_values[4 * i + k] = 0.25f;
		}
		s->labels[i] = 1.0f;
		s->labels[G_N + i] = 0.0f;
	}
	s->a_indptr[G_N] = 3 * G_N;
	s->x_indptr[G_N] = 4 * G_N;
	/* column indices of a CSR row must be sorted */
	for (int i = 0; i < G_N; i++)
		for (int a = 3 * i; a < 3 * i + 3; a++)
			for (int b = a + 1; b < 3 * i + 3; b++)
				if (s->a_indices[b] < s->a_indices[a]) {
					int32_t t = s->a_indices[a];
					s->a_indices[a] = s->a_indices[b];
					s->a_indices[b] = t;
				}
	s->adj = (struct sup_csr){ G_N, G_N, 3 * G_N, s->a_indptr, s->a_indices, s->a_values, SUP_F32 };
	s->x = (struct sup_csr){ G_N, G_F, 4 * G_N, s->x_indptr, s->x_indices, s->x_values, SUP_F32 };
	s->xp = (struct sup_csr){ G_N, G_F, 4 * G_N, s->xp_indptr, s->xp_indices, s->xp_values, SUP_F32 };
}

/* The step of bench/workloads/w5.c: a fresh row permutation of X, two encoder passes, the
 * sigmoid-mean summary, bilinear scores, BCE with logits, Adam. */
static double dgi_step(void *state, struct sup_ctx *c)
{
	struct dgi *s = state;
	sup_rng_permutation(&s->rng, s->perm, G_N);
	for (int64_t i = 0; i < G_N; i++) {
		s->xp_indptr[i] = 4 * i;
		memcpy(s->xp_indices + 4 * i, s->x_indices + 4 * s->perm[i], 4 * sizeof(int32_t));
		memcpy(s->xp_values + 4 * i, s->x_values + 4 * s->perm[i], 4 * sizeof(float));
	}
	s->xp_indptr[G_N] = 4 * G_N;
	struct sup_model *m = &s->m;
	struct sup_tensor *h = sup_gcn_encoder_forward(c, m, &s->enc, &s->adj, NULL, &s->x);
	struct sup_tensor *hc = sup_gcn_encoder_forward(c, m, &s->enc, &s->adj, NULL, &s->xp);
	struct sup_tensor *summary = sup_sigmoid(c, sup_mean(c, h, (const int[]){ 0 }, 1, false));
	struct sup_tensor *scores[2] = { sup_bilinear_forward(c, m, &s->disc, h, summary),
					 sup_bilinear_forward(c, m, &s->disc, hc, summary) };
	struct sup_tensor *lbl = sup_tensor_wrap(c, SUP_F32, 1, (const int64_t[]){ 2 * G_N }, s->labels);
	struct sup_tensor *loss = sup_bce_with_logits(c, sup_concat(c, scores, 2, 0), lbl, SUP_REDUCE_MEAN);
	sup_model_zero_grad(m);
	if (!loss || sup_backward(c, loss) != SUP_OK)
		return NAN;
	sup_optim_step(&s->o, 1e-3);
	return sup_tensor_get(loss, 0);
}

static void test_dgi(void)
{
	struct counting cnt = { 0 };
	const struct sup_allocator al = { count_alloc, count_free, &cnt };
	struct dgi *s = calloc(1, sizeof *s);
	TU_CHECK(s != NULL);
	if (!s)
		return;
	dgi_graph(s);
	sup_model_init(&s->m, al);
	sup_gcn_encoder_declare(&s->enc, &s->m, "encoder", 1, (const int64_t[]){ G_F, G_D }, SUP_GCN_ACT_PRELU, true,
				0.0);
	sup_bilinear_declare(&s->disc, &s->m, "disc", G_D, true);
	struct sup_rng r = sup_rng_make(5, 0);
	const struct sup_optim_config oc = { .kind = SUP_OPTIM_ADAM };
	bool ok = sup_model_build(&s->m, &r) == SUP_OK && sup_optim_init(&s->o, &s->m, &oc) == SUP_OK;
	TU_CHECK_MSG(ok, "W5: %s", s->m.err_msg);
	s->rng = sup_rng_make(5, 1);
	if (ok) {
		struct sup_ctx c;
		sup_ctx_init(&c, al, 1);
		run_steps("W5 dgi (small)", &cnt, &c, dgi_step, s);
		sup_ctx_deinit(&c);
		sup_optim_deinit(&s->o);
	}
	sup_model_deinit(&s->m);
	free(s);
}

/* ---- W6: VAE MLP ------------------------------------------------------------------------------- */

enum { V_B = 8, V_IN = 50, V_HID = 24, V_Z = 4 };

struct vae {
	struct sup_model m;
	struct sup_linear fc1, fc21, fc22, fc3, fc4;
	struct sup_optim o;
	float x[V_B * V_IN];
	struct sup_rng noise;
};

/* The step of bench/workloads/w6.c. */
static double vae_step(void *state, struct sup_ctx *c)
{
	struct vae *s = state;
	struct sup_model *m = &s->m;
	struct sup_tensor *x = sup_tensor_wrap(c, SUP_F32, 2, (const int64_t[]){ V_B, V_IN }, s->x);
	struct sup_tensor *h = sup_relu(c, sup_linear_forward(c, m, &s->fc1, x));
	struct sup_tensor *mu = sup_linear_forward(c, m, &s->fc21, h);
	struct sup_tensor *logvar = sup_linear_forward(c, m, &s->fc22, h);
	struct sup_tensor *eps = sup_tensor_new(c, SUP_F32, 2, (const int64_t[]){ V_B, V_Z });
	if (eps)
		sup_tensor_fill_normal(eps, &s->noise, 0.0, 1.0);
	struct sup_tensor *z = sup_add(c, mu, sup_mul(c, eps, sup_exp(c, sup_mul_scalar(c, logvar, 0.5))));
	struct sup_tensor *logits = sup_linear_forward(c, m, &s->fc4, sup_relu(c, sup_linear_forward(c, m, &s->fc3, z)));
	struct sup_tensor *loss = sup_add(c, sup_bce_with_logits(c, logits, x, SUP_REDUCE_SUM),
					  sup_gaussian_kl(c, mu, logvar, SUP_REDUCE_SUM));
	sup_model_zero_grad(m);
	if (!loss || sup_backward(c, loss) != SUP_OK)
		return NAN;
	sup_optim_step(&s->o, 1e-3);
	return sup_tensor_get(loss, 0);
}

static void test_vae(void)
{
	struct counting cnt = { 0 };
	const struct sup_allocator al = { count_alloc, count_free, &cnt };
	struct vae *s = calloc(1, sizeof *s);
	TU_CHECK(s != NULL);
	if (!s)
		return;
	sup_model_init(&s->m, al);
	sup_linear_declare(&s->fc1, &s->m, "fc1", V_IN, V_HID, true);
	sup_linear_declare(&s->fc21, &s->m, "fc21", V_HID, V_Z, true);
	sup_linear_declare(&s->fc22, &s->m, "fc22", V_HID, V_Z, true);
	sup_linear_declare(&s->fc3, &s->m, "fc3", V_Z, V_HID, true);
	sup_linear_declare(&s->fc4, &s->m, "fc4", V_HID, V_IN, true);
	struct sup_rng r = sup_rng_make(6, 0);
	const struct sup_optim_config oc = { .kind = SUP_OPTIM_ADAM };
	bool ok = sup_model_build(&s->m, &r) == SUP_OK && sup_optim_init(&s->o, &s->m, &oc) == SUP_OK;
	TU_CHECK_MSG(ok, "W6: %s", s->m.err_msg);
	for (int i = 0; i < V_B * V_IN; i++)
		s->x[i] = sup_rng_uniform(&r);
	s->noise = sup_rng_make(6, 1);
	if (ok) {
		struct sup_ctx c;
		sup_ctx_init(&c, al, 1);
		run_steps("W6 vae (small)", &cnt, &c, vae_step, s);
		sup_ctx_deinit(&c);
		sup_optim_deinit(&s->o);
	}
	sup_model_deinit(&s->m);
	free(s);
}

int main(void)
{
	/* W1: the W1 ConvNet, 2 x 4 images 1 x 12 x 12; W2: ResNet-18 (CIFAR stem), 2 x 2 images
	 * 3 x 8 x 8. Projector sizes and the rest as in bench/workloads/w1.c and w2.c. */
	const struct simclr_spec w1 = { .enc = { .name = "convnet", .in_channels = 1 }, .B = 4, .C = 1, .HW = 12,
					.hidden = 128, .out = 64, .tau = 0.5, .lr = 0.1, .weight_decay = 1e-4 };
	const struct simclr_spec w2 = { .enc = { .name = "resnet18", .in_channels = 3, .cifar_stem = true },
					.B = 2, .C = 3, .HW = 8, .hidden = 512, .out = 128, .tau = 0.2, .lr = 0.1 };
	test_simclr("W1 simclr-convnet (small)", &w1);
	test_simclr("W2 resnet18-cifar-simclr (small)", &w2);
	test_textlm("W3 bert-mlm-mini (small)", false);
	test_textlm("W4 gpt-char (small)", true);
	test_dgi();
	test_vae();
	return tu_finish("steady state");
}
