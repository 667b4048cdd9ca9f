/* VQ codebook: nearest codes against brute force, losses and perplexity against hand-computed
 * values, the straight-through gradient, gradchecks of the losses in f64 (f64model.h), and the
 * EMA update against the formula of appendix A.1 with Laplace smoothing. */
#include "testutil.h"
#include "f64model.h"
#include "selfsup/nn.h"

#include <string.h>

static void set_codes(struct sup_model *m, const struct sup_vq *l, const double *v)
{
	for (int64_t i = 0; i < l->k * l->dim; i++)
		sup_tensor_set(sup_model_tensor(m, l->embedding), i, v[i]);
}

/* K = 2 codes in D = 2, three inputs, every number by hand. */
static void test_hand_values(void)
{
	struct sup_model m;
	sup_model_init(&m, sup_allocator_default());
	struct sup_vq l;
	TU_CHECK(sup_vq_declare(&l, &m, "vq", 2, 2, false) == 0);
	TU_CHECK(l.beta == 0.25 && sup_model_find(&m, "vq.embedding.weight") == l.embedding);
	struct sup_rng r = sup_rng_make(1, 0);
	TU_CHECK(sup_model_build(&m, &r) == SUP_OK);
	set_codes(&m, &l, (const double[]){ 0, 0, 1, 1 });
	struct sup_ctx c;
	tu_ctx(&c, 1);
	static const float zv[6] = { 0.25f, 0.5f, 1.0f, 0.5f, 2.0f, 2.0f };
	struct sup_tensor *z = sup_tensor_new(&c, SUP_F32, 2, (const int64_t[]){ 3, 2 });
	memcpy(z->data, zv, sizeof zv);
	z->requires_grad = true;
	struct sup_vq_out o;
	TU_CHECK(sup_vq_forward(&c, &m, &l, z, &o) == SUP_OK);
	/* z0 -> code 0 (0.3125 < 0.8125); z1 -> code 1 (0.25 < 1.25); z2 -> code 1. */
	TU_CHECK(o.indices && o.indices->ndim == 1 && o.indices->shape[0] == 3);
	TU_CHECK(sup_tensor_get(o.indices, 0) == 0 && sup_tensor_get(o.indices, 1) == 1 && sup_tensor_get(o.indices, 2) == 1);
	/* squared errors: 0.0625 + 0.25, 0 + 0.25, 1 + 1 -> sum 2.5625, mean over 6 elements. */
	TU_CHECK_NEAR(sup_tensor_get(o.codebook_loss, 0), 2.5625 / 6, 1e-7);
	TU_CHECK_NEAR(sup_tensor_get(o.commitment_loss, 0), 2.5625 / 6, 1e-7);
	TU_CHECK_NEAR(sup_tensor_get(o.loss, 0), 1.25 * 2.5625 / 6, 1e-7);
	/* usage (1/3, 2/3): exp(-(1/3 ln 1/3 + 2/3 ln 2/3)) */
	TU_CHECK_NEAR(o.perplexity, exp(-(log(1.0 / 3) / 3 + 2 * log(2.0 / 3) / 3)), 1e-12);
	for (int i = 0; i < 6; i++)
		TU_CHECK_NEAR(sup_tensor_get(o.quantized, i), i < 2 ? 0.0 : 1.0, 1e-7);
	/* Gradients of the losses: d codebook / d e1 = -2/6 sum_{j -> 1} (z_j - e1). */
	sup_model_zero_grad(&m);
	TU_CHECK(sup_backward(&c, o.loss) == SUP_OK);
	const float *ge = sup_model_tensor(&m, l.embedding)->grad;
	TU_CHECK_NEAR(ge[0], -2.0 / 6 * 0.25, 1e-7);
	TU_CHECK_NEAR(ge[1], -2.0 / 6 * 0.5, 1e-7);
	TU_CHECK_NEAR(ge[2], -2.0 / 6 * (0.0 + 1.0), 1e-7);
	TU_CHECK_NEAR(ge[3], -2.0 / 6 * (-0.5 + 1.0), 1e-7);
	/* commitment: 0.25 * 2/6 (z - e) */
	TU_CHECK_NEAR(sup_tensor_grad_get(z, 4), 0.25 * 2.0 / 6 * 1.0, 1e-7);
	TU_CHECK_NEAR(sup_tensor_grad_get(z, 0), 0.25 * 2.0 / 6 * 0.25, 1e-7);
	sup_ctx_deinit(&c);
	sup_model_deinit(&m);
}

/* Nearest code against brute force over z [2, 3, 4, D]; the straight-through gradient is the
 * identity: d sum(r * q) / dz = r exactly, and nothing reaches the codebook through q. */
static void test_nearest_and_straight_through(void)
{
	const int64_t K = 7, D = 4;
	struct sup_model m;
	sup_model_init(&m, sup_allocator_default());
	struct sup_vq l;
	sup_vq_declare(&l, &m, "", K, D, false);
	struct sup_rng r = sup_rng_make(2, 0);
	TU_CHECK(sup_model_build(&m, &r) == SUP_OK);
	const struct sup_tensor *E = sup_model_tensor(&m, l.embedding);
	double bound = 1.0 / (double)K, mx = 0;
	for (int64_t i = 0; i < K * D; i++)
		mx = fmax(mx, fabs(sup_tensor_get(E, i)));
	TU_CHECK(mx <= bound && mx > 0.5 * bound);
	sup_tensor_fill_uniform(sup_model_tensor(&m, l.embedding), &r, -1, 1);
	struct sup_ctx c;
	tu_ctx(&c, 1);
	struct sup_tensor *z = tu_rand(&c, &r, SUP_F32, 4, (const int64_t[]){ 2, 3, 4, D }, -1.2, 1.2);
	z->requires_grad = true;
	struct sup_vq_out o;
	TU_CHECK(sup_vq_forward(&c, &m, &l, z, &o) == SUP_OK);
	TU_CHECK(o.indices->ndim == 3 && o.indices->shape[2] == 4 && o.indices->dtype == SUP_I64);
	TU_CHECK(sup_tensor_same_shape(o.quantized, z));
	int wrong = 0, used = 0;
	for (int64_t i = 0; i < 24; i++) {
		int64_t best = 0;
		double bd = INFINITY;
		for (int64_t k = 0; k < K; k++) {
			double d = 0;
			for (int64_t j = 0; j < D; j++)
				d += pow(sup_tensor_get(z, i * D + j) - sup_tensor_get(E, k * D + j), 2);
			if (d < bd) {
				bd = d;
				best = k;
			}
		}
		wrong += sup_tensor_get(o.indices, i) != best;
		used |= 1 << best;
		for (int64_t j = 0; j < D; j++)
			wrong += fabs(sup_tensor_get(o.quantized, i * D + j) - sup_tensor_get(E, best * D + j)) > 1e-6;
	}
	TU_CHECK_MSG(wrong == 0, "%d wrong codes or values", wrong);
	TU_CHECK(__builtin_popcount((unsigned)used) >= 3); /* the test exercises several codes */
	struct sup_tensor *rr = tu_rand(&c, &r, SUP_F32, 4, (const int64_t[]){ 2, 3, 4, D }, -1, 1);
	sup_model_zero_grad(&m);
	TU_CHECK(sup_backward(&c, sup_sum(&c, sup_mul(&c, o.quantized, rr), NULL, 0, false)) == SUP_OK);
	int diff = 0;
	for (int64_t i = 0; i < 24 * D; i++)
		diff += sup_tensor_grad_get(z, i) != sup_tensor_get(rr, i);
	TU_CHECK_MSG(diff == 0, "%d gradient elements differ from the identity", diff);
	for (int64_t i = 0; i < K * D; i++)
		diff += m.grads[i] != 0;
	TU_CHECK(diff == 0);
	sup_ctx_deinit(&c);
	sup_model_deinit(&m);
}

/* The losses are differentiable in z and in the codebook (the argmin is piecewise constant and
 * the random inputs stay away from ties); checked in f64. A stop-gradient makes the analytic
 * gradient differ from the numeric derivative on purpose, so each loss is checked only against
 * the input its gradient is meant to reach: the codebook loss against the codes, the commitment
 * loss against z. The straight-through output is not gradchecked for the same reason (tested
 * above). */
struct gc_user {
	struct sup_model *m;
	const struct sup_vq *l;
	bool commitment;
};

static struct sup_tensor *gc_fn(struct sup_ctx *c, struct sup_tensor *const *in, void *user)
{
	struct gc_user *u = user;
	struct sup_vq_out o;
	if (sup_vq_forward(c, u->m, u->l, in[0], &o))
		return NULL;
	return u->commitment ? o.commitment_loss : o.codebook_loss;
}

static void test_gradcheck(void)
{
	struct sup_model m;
	sup_model_init(&m, sup_allocator_default());
	struct sup_vq l;
	sup_vq_declare(&l, &m, "vq", 5, 3, false);
	struct sup_rng r = sup_rng_make(3, 0);
	sup_model_build(&m, &r);
	sup_tensor_fill_uniform(sup_model_tensor(&m, l.embedding), &r, -1, 1);
	struct sup_ctx c;
	tu_ctx(&c, 1);
	struct sup_tensor *z = tu_leaf(&c, &r, 3, (const int64_t[]){ 2, 4, 3 }, -1, 1);
	struct f64model f;
	f64model_begin(&f, &m);
	struct sup_tensor *in[2] = { z };
	f64model_params(&f, in + 1, 1);
	for (int commitment = 0; commitment < 2; commitment++) {
		z->requires_grad = commitment;
		in[1]->requires_grad = !commitment;
		struct gc_user u = { &m, &l, commitment };
		struct sup_gradcheck_report rep;
		enum sup_status st = sup_gradcheck(&c, gc_fn, &u, in, 2, NULL, &rep);
		TU_CHECK_MSG(st == SUP_OK && rep.ok && rep.checked == (commitment ? 24 : 15) && rep.skipped == 0,
			     "%s: status %d (%s), checked %lld, worst input %d [%lld]: %g vs %g",
			     commitment ? "commitment" : "codebook", (int)st, sup_ctx_error(&c), (long long)rep.checked,
			     rep.worst_input, (long long)rep.worst_index, rep.worst_analytic, rep.worst_numeric);
	}
	f64model_end(&f);
	sup_ctx_deinit(&c);
	sup_model_deinit(&m);
}

/* Two EMA steps against the formula computed here in double. */
static void test_ema(void)
{
	const int64_t K = 3, D = 2, M = 5;
	struct sup_model m;
	sup_model_init(&m, sup_allocator_default());
	struct sup_vq l;
	TU_CHECK(sup_vq_declare(&l, &m, "vq", K, D, true) == 0);
	TU_CHECK(l.decay == 0.99 && l.eps == 1e-5);
	/* A faster decay and a large smoothing constant, so that both visibly matter. */
	l.decay = 0.9;
	l.eps = 0.1;
	struct sup_rng r = sup_rng_make(4, 0);
	TU_CHECK(sup_model_build(&m, &r) == SUP_OK);
	TU_CHECK(m.entries[l.embedding].kind == SUP_KIND_BUFFER && m.n_params == 0);
	TU_CHECK(sup_model_find(&m, "vq.ema_w") == l.ema_w && sup_model_find(&m, "vq.ema_cluster_size") == l.ema_cluster_size);
	const double e0[6] = { 0, 0, 1, 1, 5, -5 }; /* code 2 is never used */
	set_codes(&m, &l, e0);
	struct sup_ctx c;
	tu_ctx(&c, 1);
	struct sup_tensor *z = tu_rand(&c, &r, SUP_F32, 2, (const int64_t[]){ M, D }, -0.3, 1.3);
	struct sup_vq_out o;
	TU_CHECK(sup_vq_forward(&c, &m, &l, z, &o) == SUP_OK);
	/* Forgetting sup_vq_ema_init is an error. */
	TU_CHECK(sup_vq_ema_update(&c, &m, &l, z, o.indices) == SUP_ERR_STATE && strstr(sup_ctx_error(&c), "sup_vq_ema_init"));
	sup_ctx_clear_error(&c);
	sup_vq_ema_init(&l, &m);
	double N[3] = { 1, 1, 1 }, Wm[6], E[6];
	memcpy(Wm, e0, sizeof Wm);
	int counted[3] = { 0 };
	for (int step = 0; step < 2; step++) {
		TU_CHECK(sup_vq_forward(&c, &m, &l, z, &o) == SUP_OK);
		/* with EMA the loss is beta * commitment only */
		TU_CHECK_NEAR(sup_tensor_get(o.loss, 0), 0.25 * sup_tensor_get(o.commitment_loss, 0), 1e-7);
		double n[3] = { 0 }, s[6] = { 0 };
		for (int64_t i = 0; i < M; i++) {
			int64_t k = (int64_t)sup_tensor_get(o.indices, i);
			n[k] += 1;
			counted[k]++;
			for (int64_t j = 0; j < D; j++)
				s[k * D + j] += sup_tensor_get(z, i * D + j);
		}
		double tot = 0;
		for (int k = 0; k < K; k++)
			tot += N[k] = 0.9 * N[k] + 0.1 * n[k];
		for (int k = 0; k < K; k++)
			for (int j = 0; j < D; j++) {
				Wm[k * D + j] = 0.9 * Wm[k * D + j] + 0.1 * s[k * D + j];
				E[k * D + j] = Wm[k * D + j] / ((N[k] + 0.1) / (tot + K * 0.1) * tot);
			}
		TU_CHECK(sup_vq_ema_update(&c, &m, &l, z, o.indices) == SUP_OK);
		double err = 0;
		for (int k = 0; k < K; k++) {
			err = fmax(err, fabs(sup_tensor_get(sup_model_tensor(&m, l.ema_cluster_size), k) - N[k]) / N[k]);
			for (int j = 0; j < D; j++) {
				err = fmax(err, fabs(sup_tensor_get(sup_model_tensor(&m, l.ema_w), k * D + j) - Wm[k * D + j]));
				err = fmax(err, fabs(sup_tensor_get(sup_model_tensor(&m, l.embedding), k * D + j) - E[k * D + j]) /
							(1 + fabs(E[k * D + j])));
			}
		}
		TU_CHECK_MSG(err < 1e-5, "step %d: max error %g", step, err);
	}
	TU_CHECK(counted[0] > 0 && counted[1] > 0 && counted[2] == 0);
	/* The unused code stays (almost) where it was: the pseudo-count of 1 keeps m_i / N_i = e_i. */
	TU_CHECK_NEAR(sup_tensor_get(sup_model_tensor(&m, l.embedding), 4), 5.0, 0.5);
	sup_ctx_deinit(&c);
	sup_model_deinit(&m);
}

int main(void)
{
	test_hand_values();
	test_nearest_and_straight_through();
	test_gradcheck();
	test_ema();
	return tu_finish("nn vq");
}
