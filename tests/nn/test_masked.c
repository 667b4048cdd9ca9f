/* PixelCNN masked convolutions and MADE: mask patterns, the autoregressive property checked on
 * outputs (perturb the inputs a position must not see, for several masks and orderings),
 * whole-module gradchecks in f64 (f64model.h), determinism of the masks, forgotten set-up. */
#include "testutil.h"
#include "f64model.h"
#include "selfsup/nn.h"

#include <string.h>

static void test_pixel_mask_pattern(void)
{
	static const float want[2][9] = { { 1, 1, 1, 1, 0, 0, 0, 0, 0 }, { 1, 1, 1, 1, 1, 0, 0, 0, 0 } };
	for (int t = 0; t < 2; t++) {
		struct sup_model m;
		sup_model_init(&m, sup_allocator_default());
		struct sup_masked_conv2d l;
		TU_CHECK(sup_masked_conv2d_declare(&l, &m, "conv", 2, 3, 3, t ? SUP_PIXEL_MASK_B : SUP_PIXEL_MASK_A, true) == 0);
		struct sup_rng r = sup_rng_make(1, 0);
		TU_CHECK(sup_model_build(&m, &r) == SUP_OK);
		sup_masked_conv2d_init_mask(&l, &m);
		TU_CHECK(sup_model_find(&m, "conv.mask") == l.mask && m.entries[l.mask].kind == SUP_KIND_BUFFER);
		const float *mk = sup_model_tensor(&m, l.mask)->data;
		TU_CHECK(memcmp(mk, want[t], sizeof want[t]) == 0 && memcmp(mk + 5 * 9, want[t], sizeof want[t]) == 0);
		sup_model_deinit(&m);
	}
	struct sup_model m;
	sup_model_init(&m, sup_allocator_default());
	struct sup_masked_conv2d l;
	TU_CHECK(sup_masked_conv2d_declare(&l, &m, "conv", 1, 1, 4, SUP_PIXEL_MASK_A, true) == -1 && m.err == SUP_ERR_ARG);
	sup_model_deinit(&m);
}

#define H 5
#define W 6

/* A PixelCNN stack (mask A, then `n_b` mask-B layers with ReLU) on x [1, C, H, W]. */
struct pcnn {
	struct sup_model m;
	struct sup_masked_conv2d l[3];
	int n;
};

static void pcnn_make(struct pcnn *p, enum sup_pixel_mask first, int n_b, int kernel)
{
	sup_model_init(&p->m, sup_allocator_default());
	p->n = 1 + n_b;
	sup_masked_conv2d_declare(&p->l[0], &p->m, "0", 2, 3, kernel, first, true);
	for (int i = 1; i < p->n; i++) {
		char name[16];
		snprintf(name, sizeof name, "%d", i);
		sup_masked_conv2d_declare(&p->l[i], &p->m, name, 3, 3, 3, SUP_PIXEL_MASK_B, true);
	}
	struct sup_rng r = sup_rng_make(7, (uint64_t)(first * 10 + n_b));
	TU_CHECK(sup_model_build(&p->m, &r) == SUP_OK);
	for (int i = 0; i < p->n; i++)
		sup_masked_conv2d_init_mask(&p->l[i], &p->m);
}

static struct sup_tensor *pcnn_forward(struct sup_ctx *c, struct pcnn *p, struct sup_tensor *x)
{
	for (int i = 0; i < p->n; i++) {
		x = sup_masked_conv2d_forward(c, &p->m, &p->l[i], x);
		if (i + 1 < p->n)
			x = sup_relu(c, x);
	}
	return x;
}

/* Output at (i, j) must not change when every input pixel at raster position >= (i, j) (type A
 * overall) or > (i, j) (type B alone) changes, in every channel; and it must change when the
 * pixel just before it (or, for B, the pixel itself) changes, so the mask is not all zero. */
static void check_pixel_autoregressive(struct pcnn *p, bool sees_centre, const char *what)
{
	struct sup_ctx c;
	tu_ctx(&c, 1);
	struct sup_rng r = sup_rng_make(8, 0);
	struct sup_tensor *x = tu_rand(&c, &r, SUP_F32, 4, (const int64_t[]){ 1, 2, H, W }, -1, 1);
	struct sup_tensor *y0 = pcnn_forward(&c, p, x);
	TU_CHECK(sup_ctx_status(&c) == SUP_OK && y0);
	int leaks = 0, dead = 0;
	for (int pos = 0; pos < H * W && y0; pos++) {
		struct sup_tensor *xa = sup_tensor_clone(&c, x), *xb = sup_tensor_clone(&c, x);
		for (int ch = 0; ch < 2; ch++)
			for (int q = 0; q < H * W; q++) {
				double v = sup_tensor_get(x, ch * H * W + q) + 1.0 + sup_rng_uniform(&r);
				if (q > pos || (q == pos && !sees_centre))
					sup_tensor_set(xa, ch * H * W + q, v);
				/* the nearest pixel the output may see */
				if (q == (sees_centre ? pos : pos - 1))
					sup_tensor_set(xb, ch * H * W + q, v);
			}
		struct sup_tensor *ya = pcnn_forward(&c, p, xa), *yb = pcnn_forward(&c, p, xb);
		for (int o = 0; o < 3 && ya && yb; o++) {
			leaks += sup_tensor_get(ya, o * H * W + pos) != sup_tensor_get(y0, o * H * W + pos);
			if (sees_centre || pos > 0)
				dead += sup_tensor_get(yb, o * H * W + pos) == sup_tensor_get(y0, o * H * W + pos);
		}
	}
	TU_CHECK_MSG(leaks == 0, "%s: %d outputs saw pixels they must not", what, leaks);
	/* With ReLUs a single unit can be off; across 3 channels it must not be always. */
	TU_CHECK_MSG(dead < H * W, "%s: %d outputs ignore the pixel they should see", what, dead);
	TU_CHECK(sup_ctx_status(&c) == SUP_OK);
	sup_ctx_deinit(&c);
}

static void test_pixel_autoregressive(void)
{
	struct pcnn p;
	pcnn_make(&p, SUP_PIXEL_MASK_A, 0, 3);
	check_pixel_autoregressive(&p, false, "mask A 3x3");
	sup_model_deinit(&p.m);
	pcnn_make(&p, SUP_PIXEL_MASK_A, 0, 5);
	check_pixel_autoregressive(&p, false, "mask A 5x5");
	sup_model_deinit(&p.m);
	pcnn_make(&p, SUP_PIXEL_MASK_B, 0, 3);
	check_pixel_autoregressive(&p, true, "mask B 3x3");
	sup_model_deinit(&p.m);
	pcnn_make(&p, SUP_PIXEL_MASK_A, 2, 7); /* A then two B layers: still strictly before (i, j) */
	check_pixel_autoregressive(&p, false, "A 7x7 + B + B stack");
	sup_model_deinit(&p.m);
}

/* ---- MADE ------------------------------------------------------------------------------------- */

#define DD 6

struct made_net {
	struct sup_model m;
	struct sup_made made;
};

static void made_make(struct made_net *n, bool order_agnostic, int64_t n_out)
{
	sup_model_init(&n->m, sup_allocator_default());
	TU_CHECK(sup_made_declare(&n->made, &n->m, "made", DD, 2, (const int64_t[]){ 12, 10 }, n_out, 42, order_agnostic) == 0);
	struct sup_rng r = sup_rng_make(9, 0);
	TU_CHECK(sup_model_build(&n->m, &r) == SUP_OK);
}

/* For mask index k: output p * D + d is unchanged when every input d' with order(d') >=
 * order(d) changes; the output of the first input in the ordering is constant. The mask
 * product (connectivity counts through all layers) is zero exactly off the allowed pairs. */
static void check_made_autoregressive(struct made_net *n, int64_t mask_index, int64_t n_out)
{
	TU_CHECK(sup_made_set_masks(&n->made, &n->m, mask_index) == SUP_OK);
	const struct sup_tensor *ord = sup_model_tensor(&n->m, n->made.order);
	int seen = 0;
	for (int d = 0; d < DD; d++)
		seen |= 1 << ((int)sup_tensor_get(ord, d) - 1);
	TU_CHECK(seen == (1 << DD) - 1);
	struct sup_ctx c;
	tu_ctx(&c, 1);
	struct sup_rng r = sup_rng_make(10, (uint64_t)mask_index);
	struct sup_tensor *x = tu_rand(&c, &r, SUP_F32, 2, (const int64_t[]){ 1, DD }, -1, 1);
	struct sup_tensor *y0 = sup_made_forward(&c, &n->m, &n->made, x);
	TU_CHECK(y0 && y0->shape[1] == n_out * DD);
	int leaks = 0, used = 0;
	for (int d = 0; d < DD && y0; d++) {
		double od = sup_tensor_get(ord, d);
		struct sup_tensor *xa = sup_tensor_clone(&c, x), *xb = sup_tensor_clone(&c, x);
		for (int e = 0; e < DD; e++) {
			double v = sup_tensor_get(x, e) + 1.0 + sup_rng_uniform(&r);
			sup_tensor_set(sup_tensor_get(ord, e) >= od ? xa : xb, e, v);
		}
		struct sup_tensor *ya = sup_made_forward(&c, &n->m, &n->made, xa);
		struct sup_tensor *yb = sup_made_forward(&c, &n->m, &n->made, xb);
		for (int p = 0; p < n_out && ya && yb; p++) {
			leaks += sup_tensor_get(ya, p * DD + d) != sup_tensor_get(y0, p * DD + d);
			used += sup_tensor_get(yb, p * DD + d) != sup_tensor_get(y0, p * DD + d);
		}
	}
	TU_CHECK_MSG(leaks == 0, "mask %lld: %d outputs saw inputs at or after their own order", (long long)mask_index, leaks);
	TU_CHECK_MSG(used > 0, "mask %lld: no output depends on any input", (long long)mask_index);
	/* Connectivity through the layers: C = M_L ... M_1 M_0 (counts of paths). */
	int64_t widths[4] = { DD, 12, 10, n_out * DD };
	double paths[64 * DD], next[64 * DD];
	for (int i = 0; i < DD; i++)
		for (int j = 0; j < DD; j++)
			paths[i * DD + j] = i == j;
	for (int l = 0; l < 3; l++) {
		const struct sup_tensor *mk = sup_model_tensor(&n->m, n->made.net[l].mask);
		for (int64_t o = 0; o < widths[l + 1]; o++)
			for (int j = 0; j < DD; j++) {
				double s = 0;
				for (int64_t i = 0; i < widths[l]; i++)
					s += sup_tensor_get(mk, o * widths[l] + i) * paths[i * DD + j];
				next[o * DD + j] = s;
			}
		memcpy(paths, next, sizeof(double) * (size_t)(widths[l + 1] * DD));
	}
	int bad = 0;
	for (int64_t o = 0; o < n_out * DD; o++)
		for (int j = 0; j < DD; j++)
			bad += paths[o * DD + j] != 0 && !(sup_tensor_get(ord, j) < sup_tensor_get(ord, o % DD));
	TU_CHECK_MSG(bad == 0, "mask %lld: %d forbidden paths", (long long)mask_index, bad);
	sup_ctx_deinit(&c);
}

static void test_made(void)
{
	struct made_net n;
	made_make(&n, true, 2);
	TU_CHECK(sup_model_find(&n.m, "made.net.0.weight") >= 0 && sup_model_find(&n.m, "made.net.4.mask") >= 0 &&
		 sup_model_find(&n.m, "made.order") == n.made.order);
	/* Forgetting sup_made_set_masks is an error, not an unmasked network. */
	struct sup_ctx c;
	tu_ctx(&c, 1);
	TU_CHECK(sup_made_forward(&c, &n.m, &n.made, sup_tensor_zeros(&c, SUP_F32, 2, (const int64_t[]){ 1, DD })) == NULL);
	TU_CHECK(sup_ctx_status(&c) == SUP_ERR_STATE && strstr(sup_ctx_error(&c), "sup_made_set_masks"));
	sup_ctx_deinit(&c);
	float ord[4][DD];
	for (int k = 0; k < 4; k++) {
		check_made_autoregressive(&n, k, 2);
		memcpy(ord[k], sup_model_tensor(&n.m, n.made.order)->data, sizeof ord[k]);
	}
	/* Order-agnostic: the orderings differ between mask indices; an index gives the same masks
	 * again. */
	TU_CHECK(memcmp(ord[0], ord[1], sizeof ord[0]) || memcmp(ord[0], ord[2], sizeof ord[0]));
	int im = n.made.net[0].mask;
	float *keep = malloc(sizeof(float) * 12 * DD);
	memcpy(keep, sup_model_tensor(&n.m, im)->data, sizeof(float) * 12 * DD);
	sup_made_set_masks(&n.made, &n.m, 1);
	sup_made_set_masks(&n.made, &n.m, 3);
	TU_CHECK(memcmp(keep, sup_model_tensor(&n.m, im)->data, sizeof(float) * 12 * DD) == 0);
	free(keep);
	sup_model_deinit(&n.m);

	/* Natural order, connectivity-agnostic: the ordering stays 1..D, hidden masks change. */
	made_make(&n, false, 1);
	check_made_autoregressive(&n, 0, 1);
	float h0[12 * DD];
	memcpy(h0, sup_model_tensor(&n.m, n.made.net[0].mask)->data, sizeof h0);
	check_made_autoregressive(&n, 5, 1);
	for (int d = 0; d < DD; d++)
		TU_CHECK(sup_tensor_get(sup_model_tensor(&n.m, n.made.order), d) == d + 1);
	TU_CHECK(memcmp(h0, sup_model_tensor(&n.m, n.made.net[0].mask)->data, sizeof h0) != 0);
	sup_model_deinit(&n.m);
}

/* ---- gradchecks in f64 ------------------------------------------------------------------------ */

struct gc_user {
	struct sup_model *m;
	const void *module;
	bool made;
};

static struct sup_tensor *gc_fn(struct sup_ctx *c, struct sup_tensor *const *in, void *user)
{
	struct gc_user *u = user;
	if (u->made)
		return sup_made_forward(c, u->m, u->module, in[0]);
	return sup_masked_conv2d_forward(c, u->m, u->module, in[0]);
}

static void gradcheck_module(struct sup_model *m, struct gc_user *u, struct sup_tensor *x, const char *what,
			     int weight_idx, int mask_idx)
{
	struct sup_ctx c;
	tu_ctx(&c, 2);
	struct f64model f;
	f64model_begin(&f, m);
	struct sup_tensor *in[16] = { x };
	int n = 1 + f64model_params(&f, in + 1, 15);
	struct sup_gradcheck_report rep;
	enum sup_status st = sup_gradcheck(&c, gc_fn, u, in, n, NULL, &rep);
	TU_CHECK_MSG(st == SUP_OK && rep.ok && rep.checked > 10, "%s: status %d (%s), worst input %d [%lld]: %g vs %g",
		     what, (int)st, sup_ctx_error(&c), rep.worst_input, (long long)rep.worst_index, rep.worst_analytic,
		     rep.worst_numeric);
	/* Masked-out weights get exactly zero gradient (one backward to look at them). */
	struct sup_tensor *w = sup_model_tensor(m, weight_idx), *mk = sup_model_tensor(m, mask_idx);
	struct sup_tensor *y = gc_fn(&c, in, u);
	sup_backward(&c, sup_sum(&c, y, NULL, 0, false));
	int nonzero = 0, masked = 0;
	for (int64_t i = 0; w->grad && i < sup_tensor_numel(w); i++)
		if (sup_tensor_get(mk, i) == 0) {
			masked++;
			nonzero += ((double *)w->grad)[i] != 0;
		}
	TU_CHECK_MSG(w->grad && masked > 0 && nonzero == 0, "%s: %d of %d masked weights got a gradient", what,
		     nonzero, masked);
	f64model_end(&f);
	sup_ctx_deinit(&c);
}

static void test_gradchecks(void)
{
	struct sup_ctx c;
	tu_ctx(&c, 1);
	struct sup_rng r = sup_rng_make(20, 0);
	struct pcnn p;
	pcnn_make(&p, SUP_PIXEL_MASK_A, 0, 3);
	struct gc_user u = { &p.m, &p.l[0], false };
	gradcheck_module(&p.m, &u, tu_leaf(&c, &r, 4, (const int64_t[]){ 2, 2, 4, 3 }, -1, 1), "masked conv A",
			 p.l[0].conv.weight, p.l[0].mask);
	sup_model_deinit(&p.m);
	pcnn_make(&p, SUP_PIXEL_MASK_B, 0, 3);
	u = (struct gc_user){ &p.m, &p.l[0], false };
	gradcheck_module(&p.m, &u, tu_leaf(&c, &r, 4, (const int64_t[]){ 1, 2, 3, 4 }, -1, 1), "masked conv B",
			 p.l[0].conv.weight, p.l[0].mask);
	sup_model_deinit(&p.m);
	struct made_net n;
	made_make(&n, true, 2);
	sup_made_set_masks(&n.made, &n.m, 2);
	u = (struct gc_user){ &n.m, &n.made, true };
	gradcheck_module(&n.m, &u, tu_leaf(&c, &r, 2, (const int64_t[]){ 3, DD }, -1, 1), "MADE", n.made.net[1].lin.weight,
			 n.made.net[1].mask);
	sup_model_deinit(&n.m);
	sup_ctx_deinit(&c);
}

int main(void)
{
	test_pixel_mask_pattern();
	test_pixel_autoregressive();
	test_made();
	test_gradchecks();
	return tu_finish("nn masked");
}
