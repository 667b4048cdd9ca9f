/* Masked layers for autoregressive density models.
 *
 * PixelCNN masked convolution: van den Oord, Kalchbrenner, Kavukcuoglu, "Pixel Recurrent Neural
 * Networks", ICML 2016, §3.4 (mask A for the first layer, mask B after it; here one channel group,
 * i.e. grayscale, so the colour-channel split of §3.4 reduces to "centre pixel hidden or shown").
 * MADE: Germain, Gregor, Murray, Larochelle, "MADE: Masked Autoencoder for Distribution
 * Estimation", ICML 2015, §4 (eq. 12-13 for the masks, §4.2 connectivity-agnostic training,
 * §4.1 order-agnostic training).
 *
 * Masks are buffers (saved with the model, no gradient); the forward multiplies the weight by
 * the mask every call, so the gradient of a masked-out weight is exactly zero and an optimizer
 * never moves it off its (irrelevant) value. */
#include "selfsup/nn.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define T(m, i) sup_model_tensor((m), (i))

/* Buffers that need a set-up call after build are declared NaN: true (and an error recorded)
 * when that call was forgotten. */
static bool unset(struct sup_ctx *c, struct sup_model *m, int idx, const char *who, const char *call)
{
	if (isnan(sup_tensor_get(T(m, idx), 0))) {
		sup_ctx_fail(c, SUP_ERR_STATE, "%s: the mask %s is not set: call %s after sup_model_build", who,
			     m->entries[idx].name, call);
		return true;
	}
	return false;
}

/* ---- PixelCNN ---------------------------------------------------------------------------------- */

int sup_masked_conv2d_declare(struct sup_masked_conv2d *l, struct sup_model *m, const char *prefix, int64_t in,
			      int64_t out, int kernel, enum sup_pixel_mask type, bool bias)
{
	if (kernel < 1 || kernel % 2 == 0 || (type != SUP_PIXEL_MASK_A && type != SUP_PIXEL_MASK_B))
		return sup_model_fail(m, SUP_ERR_ARG, "%s: a masked convolution needs an odd kernel (got %d) and mask A or B",
				      prefix, kernel);
	l->type = type;
	sup_conv2d_declare(&l->conv, m, prefix, in, out, kernel, 1, kernel / 2, bias);
	l->mask = sup_model_add(m, prefix, "mask", SUP_KIND_BUFFER, 4, (const int64_t[]){ out, in, kernel, kernel },
				SUP_INIT_CONST, NAN, 0);
	return m->err ? -1 : 0;
}

void sup_masked_conv2d_init_mask(const struct sup_masked_conv2d *l, struct sup_model *m)
{
	struct sup_tensor *mk = T(m, l->mask);
	const int k = l->conv.kh, ctr = k / 2;
	const int64_t pairs = mk->shape[0] * mk->shape[1];
	for (int64_t p = 0; p < pairs; p++)
		for (int y = 0; y < k; y++)
			for (int x = 0; x < k; x++) {
				/* Raster order: rows above the centre, and the centre row left of it; the
				 * centre itself only for mask B. */
				bool on = y < ctr || (y == ctr && (x < ctr || (x == ctr && l->type == SUP_PIXEL_MASK_B)));
				sup_tensor_set(mk, (p * k + y) * k + x, on ? 1.0 : 0.0);
			}
}

struct sup_tensor *sup_masked_conv2d_forward(struct sup_ctx *c, struct sup_model *m,
					     const struct sup_masked_conv2d *l, struct sup_tensor *x)
{
	if (!x || c->err || unset(c, m, l->mask, "masked conv2d", "sup_masked_conv2d_init_mask"))
		return NULL;
	struct sup_tensor *w = sup_mul(c, T(m, l->conv.weight), T(m, l->mask));
	return sup_conv2d(c, x, w, l->conv.bias >= 0 ? T(m, l->conv.bias) : NULL, &l->conv.args);
}

/* ---- masked linear and MADE ------------------------------------------------------------------- */

int sup_masked_linear_declare(struct sup_masked_linear *l, struct sup_model *m, const char *prefix, int64_t in,
			      int64_t out, bool bias)
{
	sup_linear_declare(&l->lin, m, prefix, in, out, bias);
	l->mask = sup_model_add(m, prefix, "mask", SUP_KIND_BUFFER, 2, (const int64_t[]){ out, in }, SUP_INIT_CONST,
				NAN, 0);
	return m->err ? -1 : 0;
}

struct sup_tensor *sup_masked_linear_forward(struct sup_ctx *c, struct sup_model *m,
					     const struct sup_masked_linear *l, struct sup_tensor *x)
{
	if (!x || c->err || unset(c, m, l->mask, "masked linear", "sup_made_set_masks (or fill the mask)"))
		return NULL;
	struct sup_tensor *w = sup_mul(c, T(m, l->lin.weight), T(m, l->mask));
	struct sup_tensor *y = sup_matmul(c, x, w, false, true);
	return l->lin.bias >= 0 ? sup_add(c, y, T(m, l->lin.bias)) : y;
}

int sup_made_declare(struct sup_made *l, struct sup_model *m, const char *prefix, int64_t d, int n_hidden,
		     const int64_t *hidden, int64_t n_out, uint64_t seed, bool order_agnostic)
{
	if (d < 2 || n_out < 1 || n_hidden < 1 || n_hidden > SUP_MADE_MAX_HIDDEN)
		return sup_model_fail(m, SUP_ERR_ARG,
				      "%s: MADE needs D >= 2 (got %lld), n_out >= 1 (got %lld) and 1 to %d hidden layers (got %d)",
				      prefix, (long long)d, (long long)n_out, SUP_MADE_MAX_HIDDEN, n_hidden);
	*l = (struct sup_made){ .n_hidden = n_hidden, .d = d, .n_out = n_out, .seed = seed, .order_agnostic = order_agnostic };
	char name[SUP_NAME_MAX];
	const char *dot = *prefix ? "." : "";
	int64_t in = d;
	for (int i = 0; i <= n_hidden; i++) {
		int64_t out = i < n_hidden ? hidden[i] : n_out * d;
		if (out < 1)
			return sup_model_fail(m, SUP_ERR_ARG, "%s: hidden layer %d has %lld units", prefix, i, (long long)out);
		snprintf(name, sizeof name, "%s%snet.%d", prefix, dot, 2 * i); /* ReLUs sit at the odd indices */
		sup_masked_linear_declare(&l->net[i], m, name, in, out, true);
		in = out;
	}
	l->order = sup_model_add(m, prefix, "order", SUP_KIND_BUFFER, 1, (const int64_t[]){ d }, SUP_INIT_CONST, NAN, 0);
	return m->err ? -1 : 0;
}

/* Degrees of one hidden layer: uniform in [min(prev), D - 1] (Germain et al. §4, eq. 12). */
static void hidden_degrees(int64_t *deg, int64_t n, const int64_t *prev, int64_t n_prev, int64_t D, struct sup_rng *r)
{
	int64_t lo = prev[0];
	for (int64_t k = 1; k < n_prev; k++)
		lo = prev[k] < lo ? prev[k] : lo;
	if (lo > D - 1) /* cannot happen for D >= 2 (hidden degrees stay <= D - 1); kept as a guard */
		lo = D - 1;
	for (int64_t k = 0; k < n; k++)
		deg[k] = lo + (int64_t)sup_rng_below(r, (uint64_t)(D - lo));
}

/* mask[j][k] = (deg_out[j] >= deg_in[k]) for hidden layers, (deg_out[j] > deg_in[k]) for the
 * output layer (eq. 13 and the output mask of §4). */
static void fill_mask(struct sup_tensor *mk, const int64_t *deg_out, int64_t n_out, const int64_t *deg_in,
		      int64_t n_in, bool strict)
{
	for (int64_t j = 0; j < n_out; j++)
		for (int64_t k = 0; k < n_in; k++) {
			bool on = strict ? deg_out[j] > deg_in[k] : deg_out[j] >= deg_in[k];
			sup_tensor_set(mk, j * n_in + k, on ? 1.0 : 0.0);
		}
}

enum sup_status sup_made_set_masks(const struct sup_made *l, struct sup_model *m, int64_t mask_index)
{
	if (mask_index < 0)
		return SUP_ERR_ARG;
	const int64_t D = l->d;
	int64_t widest = D * l->n_out;
	for (int i = 0; i < l->n_hidden; i++)
		widest = l->net[i].lin.out > widest ? l->net[i].lin.out : widest;
	/* Degrees of the previous and current layer, and the input ordering (a permutation). */
	int64_t *buf = sup_alloc(&m->alloc, sizeof(int64_t) * (size_t)(2 * widest + 2 * D), 64);
	if (!buf)
		return SUP_ERR_NOMEM;
	int64_t *prev = buf, *cur = buf + widest, *deg0 = buf + 2 * widest, *perm = deg0 + D;
	struct sup_rng r = sup_rng_make(l->seed, (uint64_t)mask_index);
	if (l->order_agnostic)
		sup_rng_permutation(&r, perm, D);
	else
		for (int64_t i = 0; i < D; i++)
			perm[i] = i;
	/* perm[i] is the input placed at position i of the ordering: its degree is i + 1. */
	for (int64_t i = 0; i < D; i++)
		deg0[perm[i]] = i + 1;
	struct sup_tensor *order = T(m, l->order);
	for (int64_t d = 0; d < D; d++)
		sup_tensor_set(order, d, (double)deg0[d]);
	memcpy(prev, deg0, sizeof(int64_t) * (size_t)D);
	int64_t n_prev = D;
	for (int i = 0; i < l->n_hidden; i++) {
		const int64_t n = l->net[i].lin.out;
		hidden_degrees(cur, n, prev, n_prev, D, &r);
		fill_mask(T(m, l->net[i].mask), cur, n, prev, n_prev, false);
		memcpy(prev, cur, sizeof(int64_t) * (size_t)n);
		n_prev = n;
	}
	for (int64_t j = 0; j < D * l->n_out; j++)
		cur[j] = deg0[j % D]; /* output unit p * D + d models input d */
	fill_mask(T(m, l->net[l->n_hidden].mask), cur, D * l->n_out, prev, n_prev, true);
	sup_free(&m->alloc, buf);
	return SUP_OK;
}

struct sup_tensor *sup_made_forward(struct sup_ctx *c, struct sup_model *m, const struct sup_made *l,
				    struct sup_tensor *x)
{
	if (!x || c->err || unset(c, m, l->order, "MADE", "sup_made_set_masks"))
		return NULL;
	for (int i = 0; i <= l->n_hidden; i++) {
		x = sup_masked_linear_forward(c, m, &l->net[i], x);
		if (i < l->n_hidden)
			x = sup_relu(c, x);
	}
	return x;
}
