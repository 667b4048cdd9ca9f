/* Behaviour of the elementwise ops: forward values and gradients against hand-computed numbers
 * (transcendental ones from Python's math module, derivatives from their closed forms there), kink conventions, broadcasting, error cases
 * and dropout's RNG contract. Each value check runs in f64 (reference), f32 (reference) and f32
 * (fast CPU kernels). */
#include "testutil.h"

#include <string.h>

#define N5 5

struct cfg {
	enum sup_dtype dt;
	enum sup_backend be;
	double tol; /* relative to 1 + |expected| */
};
static const struct cfg cfgs[] = {
	{ SUP_F64, SUP_BACKEND_REF, 1e-12 },
	{ SUP_F32, SUP_BACKEND_REF, 3e-6 },
	{ SUP_F32, SUP_BACKEND_CPU, 3e-6 },
};
#define N_CFGS (int)(sizeof cfgs / sizeof cfgs[0])

static struct sup_tensor *vec(struct sup_ctx *c, enum sup_dtype dt, const double *v, int64_t n)
{
	struct sup_tensor *t = sup_tensor_new(c, dt, 1, &n);
	for (int64_t i = 0; t && i < n; i++)
		sup_tensor_set(t, i, v[i]);
	if (t)
		t->requires_grad = true;
	return t;
}

static void check_vals(const char *what, const struct cfg *k, const struct sup_tensor *t, const double *want,
		       int64_t n, bool grad)
{
	TU_CHECK_MSG(t != NULL, "%s: no tensor", what);
	if (!t)
		return;
	for (int64_t i = 0; i < n; i++) {
		double got = grad ? sup_tensor_grad_get(t, i) : sup_tensor_get(t, i);
		double tol = k->tol * (1 + fabs(want[i]));
		TU_CHECK_MSG(fabs(got - want[i]) <= tol, "%s (%s, backend %d) %s[%lld] = %.12g, want %.12g", what,
			     sup_dtype_name(k->dt), (int)k->be, grad ? "grad" : "value", (long long)i, got, want[i]);
	}
}

/* Backward with an all-ones output gradient. */
static void backward_ones(struct sup_ctx *c, struct sup_tensor *y)
{
	struct sup_tensor *g = sup_tensor_full(c, y->dtype, y->ndim, y->shape, 1.0);
	TU_CHECK(g && sup_backward_grad(c, y, g->data) == SUP_OK);
}

/* ---- unary ---------------------------------------------------------------------------------- */

struct unary_case {
	const char *name;
	struct sup_tensor *(*fn)(struct sup_ctx *c, struct sup_tensor *x);
	double x[N5], y[N5], dy[N5];
};

static struct sup_tensor *u_neg(struct sup_ctx *c, struct sup_tensor *x) { return sup_neg(c, x); }
static struct sup_tensor *u_exp(struct sup_ctx *c, struct sup_tensor *x) { return sup_exp(c, x); }
static struct sup_tensor *u_log(struct sup_ctx *c, struct sup_tensor *x) { return sup_log(c, x); }
static struct sup_tensor *u_sqrt(struct sup_ctx *c, struct sup_tensor *x) { return sup_sqrt(c, x); }
static struct sup_tensor *u_rsqrt(struct sup_ctx *c, struct sup_tensor *x) { return sup_rsqrt(c, x); }
static struct sup_tensor *u_abs(struct sup_ctx *c, struct sup_tensor *x) { return sup_abs(c, x); }
static struct sup_tensor *u_relu(struct sup_ctx *c, struct sup_tensor *x) { return sup_relu(c, x); }
static struct sup_tensor *u_leaky(struct sup_ctx *c, struct sup_tensor *x) { return sup_leaky_relu(c, x, 0.1); }
static struct sup_tensor *u_elu(struct sup_ctx *c, struct sup_tensor *x) { return sup_elu(c, x, 1.3); }
static struct sup_tensor *u_gelu(struct sup_ctx *c, struct sup_tensor *x) { return sup_gelu(c, x, false); }
static struct sup_tensor *u_gelu_t(struct sup_ctx *c, struct sup_tensor *x) { return sup_gelu(c, x, true); }
static struct sup_tensor *u_sigmoid(struct sup_ctx *c, struct sup_tensor *x) { return sup_sigmoid(c, x); }
static struct sup_tensor *u_tanh(struct sup_ctx *c, struct sup_tensor *x) { return sup_tanh(c, x); }
static struct sup_tensor *u_softplus(struct sup_ctx *c, struct sup_tensor *x) { return sup_softplus(c, x); }
static struct sup_tensor *u_add_s(struct sup_ctx *c, struct sup_tensor *x) { return sup_add_scalar(c, x, 0.75); }
static struct sup_tensor *u_mul_s(struct sup_ctx *c, struct sup_tensor *x) { return sup_mul_scalar(c, x, -1.5); }
static struct sup_tensor *u_pow2(struct sup_ctx *c, struct sup_tensor *x) { return sup_pow_scalar(c, x, 2); }
static struct sup_tensor *u_pow0(struct sup_ctx *c, struct sup_tensor *x) { return sup_pow_scalar(c, x, 0); }
static struct sup_tensor *u_clamp(struct sup_ctx *c, struct sup_tensor *x) { return sup_clamp(c, x, -1, 0.5); }

#define XS { -2.0, -0.5, 0.0, 0.5, 3.0 }
#define XP { 0.25, 0.5, 1.0, 2.0, 4.0 }
static const struct unary_case unary_cases[] = {
	{ "neg", u_neg, XS, { 2, 0.5, 0, -0.5, -3 }, { -1, -1, -1, -1, -1 } },
	{ "exp", u_exp, XS, { 0.1353352832366127, 0.6065306597126334, 1, 1.6487212707001282, 20.085536923187668 },
	  { 0.1353352832366127, 0.6065306597126334, 1, 1.6487212707001282, 20.085536923187668 } },
	{ "log", u_log, XP, { -1.3862943611198906, -0.6931471805599453, 0, 0.6931471805599453, 1.3862943611198906 },
	  { 4, 2, 1, 0.5, 0.25 } },
	{ "sqrt", u_sqrt, XP, { 0.5, 0.7071067811865476, 1, 1.4142135623730951, 2 },
	  { 1, 0.7071067811865476, 0.5, 0.3535533905932738, 0.25 } },
	{ "rsqrt", u_rsqrt, XP, { 2, 1.4142135623730951, 1, 0.7071067811865476, 0.5 },
	  { -4, -1.4142135623730951, -0.5, -0.1767766952966369, -0.0625 } },
	/* kinks: abs'(0) = 0, relu'(0) = 0, leaky_relu'(0) = slope, elu'(0) = alpha (PyTorch) */
	{ "abs", u_abs, XS, { 2, 0.5, 0, 0.5, 3 }, { -1, -1, 0, 1, 1 } },
	{ "relu", u_relu, XS, { 0, 0, 0, 0.5, 3 }, { 0, 0, 0, 1, 1 } },
	{ "leaky_relu", u_leaky, XS, { -0.2, -0.05, 0, 0.5, 3 }, { 0.1, 0.1, 0.1, 1, 1 } },
	{ "elu", u_elu, XS, { -1.1240641317924036, -0.5115101423735766, 0, 0.5, 3 },
	  { 0.17593586820759652, 0.7884898576264234, 1.3, 1, 1 } },
	{ "gelu", u_gelu, XS, { -0.04550026389635842, -0.15426876936299344, 0, 0.34573123063700656, 2.99595030590511 },
	  { -0.08523180107819692, 0.13250487534383712, 0.5, 0.8674951246561629, 1.011945647204184 } },
	{ "gelu tanh", u_gelu_t, XS,
	  { -0.04540230591222494, -0.15428599017485606, 0, 0.34571400982514394, 2.996362607918227 },
	  { -0.08609925662361825, 0.13263009646535764, 0.5, 0.8673699035346424, 1.0115841666309695 } },
	{ "sigmoid", u_sigmoid, XS, { 0.11920292202211755, 0.3775406687981454, 0.5, 0.6224593312018546, 0.9525741268224334 },
	  { 0.1049935854035065, 0.2350037122015945, 0.25, 0.2350037122015945, 0.045176659730912 } },
	{ "tanh", u_tanh, XS, { -0.9640275800758169, -0.46211715726000974, 0, 0.46211715726000974, 0.9950547536867305 },
	  { 0.07065082485316443, 0.7864477329659274, 1, 0.7864477329659274, 0.009866037165440211 } },
	{ "softplus", u_softplus, XS, { 0.1269280110429725, 0.4740769841801067, 0.6931471805599453, 0.9740769841801067, 3.048587351573742 },
	  { 0.11920292202211755, 0.3775406687981454, 0.5, 0.6224593312018546, 0.9525741268224334 } },
	{ "add_scalar", u_add_s, XS, { -1.25, 0.25, 0.75, 1.25, 3.75 }, { 1, 1, 1, 1, 1 } },
	{ "mul_scalar", u_mul_s, XS, { 3, 0.75, 0, -0.75, -4.5 }, { -1.5, -1.5, -1.5, -1.5, -1.5 } },
	{ "pow_scalar 2", u_pow2, XS, { 4, 0.25, 0, 0.25, 9 }, { -4, -1, 0, 1, 6 } },
	{ "pow_scalar 0", u_pow0, XS, { 1, 1, 1, 1, 1 }, { 0, 0, 0, 0, 0 } },
	/* clamp passes the gradient on the boundary (x == hi), as PyTorch */
	{ "clamp", u_clamp, XS, { -1, -0.5, 0, 0.5, 0.5 }, { 0, 1, 1, 1, 0 } },
};

static void test_unary(void)
{
	for (size_t u = 0; u < sizeof unary_cases / sizeof unary_cases[0]; u++) {
		const struct unary_case *uc = &unary_cases[u];
		for (int k = 0; k < N_CFGS; k++) {
			struct sup_ctx c;
			tu_ctx(&c, 1);
			c.backend = cfgs[k].be;
			struct sup_tensor *x = vec(&c, cfgs[k].dt, uc->x, N5);
			struct sup_tensor *y = uc->fn(&c, x);
			check_vals(uc->name, &cfgs[k], y, uc->y, N5, false);
			if (y)
				backward_ones(&c, y);
			check_vals(uc->name, &cfgs[k], x, uc->dy, N5, true);
			TU_CHECK_MSG(sup_ctx_status(&c) == SUP_OK, "%s: %s", uc->name, sup_ctx_error(&c));
			sup_ctx_deinit(&c);
		}
	}
}

/* Far tails: no overflow to inf or NaN in sigmoid/softplus, in either dtype. */
static void test_stable_tails(void)
{
	for (int k = 0; k < N_CFGS; k++) {
		struct sup_ctx c;
		tu_ctx(&c, 1);
		c.backend = cfgs[k].be;
		const double xv[4] = { -100, 100, -1000, 1000 };
		struct sup_tensor *x = vec(&c, cfgs[k].dt, xv, 4);
		struct sup_tensor *sp = sup_softplus(&c, x), *sg = sup_sigmoid(&c, x);
		TU_CHECK(sp && sg);
		if (!sp || !sg) {
			sup_ctx_deinit(&c);
			continue;
		}
		/* e^-100 = 3.72e-44 is a denormal in f32: only its order of magnitude survives */
		const double tiny = 3.7200759760208356e-44, tol = cfgs[k].dt == SUP_F64 ? 1e-57 : 3e-45;
		TU_CHECK_NEAR(sup_tensor_get(sp, 0), tiny, tol);
		TU_CHECK_NEAR(sup_tensor_get(sp, 1), 100, 1e-12);
		TU_CHECK(sup_tensor_get(sp, 2) == 0 && sup_tensor_get(sp, 3) == 1000);
		TU_CHECK_NEAR(sup_tensor_get(sg, 0), tiny, tol);
		TU_CHECK(sup_tensor_get(sg, 1) == 1 && sup_tensor_get(sg, 2) == 0 && sup_tensor_get(sg, 3) == 1);
		backward_ones(&c, sp);
		TU_CHECK(sup_tensor_grad_get(x, 1) == 1 && sup_tensor_grad_get(x, 2) == 0);
		sup_ctx_deinit(&c);
	}
}

/* ---- binary ----------------------------------------------------------------------------------- */

struct binary_case {
	const char *name;
	struct sup_tensor *(*fn)(struct sup_ctx *c, struct sup_tensor *a, struct sup_tensor *b);
	double a[N5], b[N5], z[N5], da[N5], db[N5];
};

#define A1 { 1, -2, 3, 0.5, 2 }
#define B1 { 2, 2, -1, 0.5, 0 }
static const struct binary_case binary_cases[] = {
	{ "add", sup_add, A1, B1, { 3, 0, 2, 1, 2 }, { 1, 1, 1, 1, 1 }, { 1, 1, 1, 1, 1 } },
	{ "sub", sup_sub, A1, B1, { -1, -4, 4, 0, 2 }, { 1, 1, 1, 1, 1 }, { -1, -1, -1, -1, -1 } },
	{ "mul", sup_mul, A1, B1, { 2, -4, -3, 0.25, 0 }, B1, A1 },
	{ "div", sup_div, A1, { 2, 4, -1, 0.5, 8 }, { 0.5, -0.5, -3, 1, 0.25 }, { 0.5, 0.25, -1, 2, 0.125 },
	  { -0.25, 0.125, -3, -2, -0.03125 } },
	/* d/db at a == 0, b >= 0 is 0; d/da at b == 0 is 0 (PyTorch) */
	{ "pow", sup_pow, { 2, 0.5, 3, 0, 4 }, { 3, -1, 0.5, 2, 0 }, { 8, 2, 1.7320508075688772, 0, 1 },
	  { 12, -4, 0.28867513459481287, 0, 0 }, { 5.545177444479562, -1.3862943611198906, 1.902852301792692, 0, 1.3862943611198906 } },
	/* ties (index 3) send the whole gradient to a */
	{ "minimum", sup_minimum, A1, B1, { 1, -2, -1, 0.5, 0 }, { 1, 1, 0, 1, 0 }, { 0, 0, 1, 0, 1 } },
	{ "maximum", sup_maximum, A1, B1, { 2, 2, 3, 0.5, 2 }, { 0, 0, 1, 1, 1 }, { 1, 1, 0, 0, 0 } },
};

static void test_binary(void)
{
	for (size_t u = 0; u < sizeof binary_cases / sizeof binary_cases[0]; u++) {
		const struct binary_case *bc = &binary_cases[u];
		for (int k = 0; k < N_CFGS; k++) {
			struct sup_ctx c;
			tu_ctx(&c, 1);
			c.backend = cfgs[k].be;
			struct sup_tensor *a = vec(&c, cfgs[k].dt, bc->a, N5), *b = vec(&c, cfgs[k].dt, bc->b, N5);
			struct sup_tensor *z = bc->fn(&c, a, b);
			check_vals(bc->name, &cfgs[k], z, bc->z, N5, false);
			if (z)
				backward_ones(&c, z);
			check_vals(bc->name, &cfgs[k], a, bc->da, N5, true);
			check_vals(bc->name, &cfgs[k], b, bc->db, N5, true);
			sup_ctx_deinit(&c);
		}
	}
}

/* [2,3,1] + [4] -> [2,3,4]; gradients sum over the broadcast axes. Also the bias patterns that
 * the fast kernels special-case, with gradients checked by hand. */
static void test_broadcast(void)
{
	for (int k = 0; k < N_CFGS; k++) {
		struct sup_ctx c;
		tu_ctx(&c, 1);
		c.backend = cfgs[k].be;
		struct sup_tensor *a = sup_tensor_new(&c, cfgs[k].dt, TU_SHAPE(2, 3, 1));
		struct sup_tensor *b = sup_tensor_new(&c, cfgs[k].dt, TU_SHAPE(4));
		for (int i = 0; i < 6; i++)
			sup_tensor_set(a, i, 10.0 * i);
		for (int i = 0; i < 4; i++)
			sup_tensor_set(b, i, i + 1);
		a->requires_grad = b->requires_grad = true;
		struct sup_tensor *z = sup_mul(&c, a, b);
		TU_CHECK(z && z->ndim == 3 && z->shape[0] == 2 && z->shape[1] == 3 && z->shape[2] == 4);
		if (!z) {
			sup_ctx_deinit(&c);
			continue;
		}
		for (int i = 0; i < 6; i++)
			for (int j = 0; j < 4; j++)
				TU_CHECK_NEAR(sup_tensor_get(z, i * 4 + j), 10.0 * i * (j + 1), 0);
		backward_ones(&c, z);
		for (int i = 0; i < 6; i++) /* sum_j b[j] = 10 */
			TU_CHECK_NEAR(sup_tensor_grad_get(a, i), 10, 0);
		for (int j = 0; j < 4; j++) /* sum_i a[i] = 150 */
			TU_CHECK_NEAR(sup_tensor_grad_get(b, j), 150, 0);

		/* [N, C, H, W] + [1, C, 1, 1] and [N, C] - [C] */
		struct sup_tensor *x = sup_tensor_full(&c, cfgs[k].dt, TU_SHAPE(2, 3, 2, 2), 1.0);
		struct sup_tensor *bias = sup_tensor_new(&c, cfgs[k].dt, TU_SHAPE(1, 3, 1, 1));
		struct sup_tensor *m = sup_tensor_full(&c, cfgs[k].dt, TU_SHAPE(5, 3), 2.0);
		struct sup_tensor *v = sup_tensor_new(&c, cfgs[k].dt, TU_SHAPE(3));
		for (int i = 0; i < 3; i++) {
			sup_tensor_set(bias, i, i);
			sup_tensor_set(v, i, 0.5 * i);
		}
		bias->requires_grad = v->requires_grad = x->requires_grad = true;
		/* one backward per forward: backward consumes the tape */
		struct sup_tensor *y1 = sup_add(&c, x, bias);
		if (y1)
			backward_ones(&c, y1);
		struct sup_tensor *y2 = sup_sub(&c, m, v);
		if (y2)
			backward_ones(&c, y2);
		TU_CHECK(y1 && y2);
		if (y1 && y2) {
			for (int i = 0; i < 24; i++)
				TU_CHECK_NEAR(sup_tensor_get(y1, i), 1.0 + (i / 4) % 3, 0);
			for (int i = 0; i < 15; i++)
				TU_CHECK_NEAR(sup_tensor_get(y2, i), 2.0 - 0.5 * (i % 3), 0);
			for (int i = 0; i < 3; i++) {
				TU_CHECK_NEAR(sup_tensor_grad_get(bias, i), 8, 0);
				TU_CHECK_NEAR(sup_tensor_grad_get(v, i), -5, 0);
			}
			TU_CHECK_NEAR(sup_tensor_grad_get(x, 23), 1, 0);
		}
		TU_CHECK(sup_ctx_status(&c) == SUP_OK);
		sup_ctx_deinit(&c);
	}
}

/* where: cond [3,1] u8, a [3,4], b [4]; gradient only to the chosen side, none to cond. */
static void test_where(void)
{
	for (int k = 0; k < N_CFGS; k++) {
		struct sup_ctx c;
		tu_ctx(&c, 1);
		c.backend = cfgs[k].be;
		struct sup_tensor *cond = sup_tensor_new(&c, SUP_U8, TU_SHAPE(3, 1));
		struct sup_tensor *a = sup_tensor_new(&c, cfgs[k].dt, TU_SHAPE(3, 4));
		struct sup_tensor *b = sup_tensor_new(&c, cfgs[k].dt, TU_SHAPE(4));
		const uint8_t cv[3] = { 1, 0, 9 };
		memcpy(cond->data, cv, 3);
		for (int i = 0; i < 12; i++)
			sup_tensor_set(a, i, i);
		for (int i = 0; i < 4; i++)
			sup_tensor_set(b, i, -1 - i);
		a->requires_grad = b->requires_grad = true;
		struct sup_tensor *z = sup_where(&c, cond, a, b);
		TU_CHECK(z && z->shape[0] == 3 && z->shape[1] == 4);
		if (z) {
			for (int i = 0; i < 12; i++)
				TU_CHECK_NEAR(sup_tensor_get(z, i), cv[i / 4] ? i : -1 - i % 4, 0);
			backward_ones(&c, z);
			for (int i = 0; i < 12; i++)
				TU_CHECK_NEAR(sup_tensor_grad_get(a, i), cv[i / 4] ? 1 : 0, 0);
			for (int i = 0; i < 4; i++)
				TU_CHECK_NEAR(sup_tensor_grad_get(b, i), 1, 0);
		}
		TU_CHECK(cond->grad == NULL);
		sup_ctx_deinit(&c);
	}
}

/* PReLU by hand: x [2, 2] with slopes per channel, then one shared slope. */
static void test_prelu(void)
{
	for (int k = 0; k < N_CFGS; k++) {
		struct sup_ctx c;
		tu_ctx(&c, 1);
		c.backend = cfgs[k].be;
		struct sup_tensor *x = sup_tensor_new(&c, cfgs[k].dt, TU_SHAPE(2, 2));
		const double xv[4] = { -1, 2, 3, -4 };
		for (int i = 0; i < 4; i++)
			sup_tensor_set(x, i, xv[i]);
		const double wv[2] = { 0.1, 0.5 }, ws[1] = { 0.25 };
		struct sup_tensor *w = vec(&c, cfgs[k].dt, wv, 2), *s = vec(&c, cfgs[k].dt, ws, 1);
		x->requires_grad = true;
		struct sup_tensor *y = sup_prelu(&c, x, w);
		const double yw[4] = { -0.1, 2, 3, -2 }, dxw[4] = { 0.1, 1, 1, 0.5 }, dww[2] = { -1, -4 };
		check_vals("prelu", &cfgs[k], y, yw, 4, false);
		if (y)
			backward_ones(&c, y);
		check_vals("prelu dx", &cfgs[k], x, dxw, 4, true);
		check_vals("prelu dw", &cfgs[k], w, dww, 2, true);
		sup_grad_release(&c, x);
		struct sup_tensor *y2 = sup_prelu(&c, x, s);
		const double ys[4] = { -0.25, 2, 3, -1 }, dss[1] = { -5 };
		check_vals("prelu shared", &cfgs[k], y2, ys, 4, false);
		if (y2)
			backward_ones(&c, y2);
		check_vals("prelu shared dw", &cfgs[k], s, dss, 1, true);
		sup_ctx_deinit(&c);
	}
}

/* Non-contiguous operands (a transposed and a strided view) give the values and gradients of
 * their contiguous copies. */
static void test_views(void)
{
	for (int k = 0; k < N_CFGS; k++) {
		struct sup_ctx c;
		tu_ctx(&c, 1);
		c.backend = cfgs[k].be;
		struct sup_tensor *a = sup_tensor_new(&c, cfgs[k].dt, TU_SHAPE(3, 4));
		struct sup_tensor *b = sup_tensor_new(&c, cfgs[k].dt, TU_SHAPE(4, 6));
		for (int i = 0; i < 12; i++)
			sup_tensor_set(a, i, i - 5.5);
		for (int i = 0; i < 24; i++)
			sup_tensor_set(b, i, 0.25 * i);
		a->requires_grad = b->requires_grad = true;
		/* one backward per forward: backward consumes the tape (and the view nodes with it) */
		struct sup_tensor *r = sup_relu(&c, sup_transpose(&c, a, 0, 1)); /* t[i][j] = a[j][i] */
		if (r)
			backward_ones(&c, r);
		/* u[i][j] = b[i][2j] */
		struct sup_tensor *s = sup_sub(&c, sup_transpose(&c, a, 0, 1), sup_slice(&c, b, 1, 0, 6, 2));
		if (s)
			backward_ones(&c, s);
		TU_CHECK(r && s);
		if (!r || !s) {
			sup_ctx_deinit(&c);
			continue;
		}
		for (int i = 0; i < 4; i++)
			for (int j = 0; j < 3; j++) {
				double tv = j * 4 + i - 5.5, uv = 0.25 * (i * 6 + 2 * j);
				TU_CHECK_NEAR(sup_tensor_get(r, i * 3 + j), tv > 0 ? tv : 0, 0);
				TU_CHECK_NEAR(sup_tensor_get(s, i * 3 + j), tv - uv, 1e-6);
			}
		for (int i = 0; i < 12; i++)
			TU_CHECK_NEAR(sup_tensor_grad_get(a, i), (i - 5.5 > 0 ? 1 : 0) + 1, 0);
		for (int i = 0; i < 24; i++)
			TU_CHECK_NEAR(sup_tensor_grad_get(b, i), i % 2 ? 0 : -1, 0);
		sup_ctx_deinit(&c);
	}
}

/* ---- errors ----------------------------------------------------------------------------------- */

static void test_errors(void)
{
	struct sup_ctx c;
	tu_ctx(&c, 1);
	struct sup_tensor *a = sup_tensor_zeros(&c, SUP_F32, TU_SHAPE(2, 3));
	struct sup_tensor *b = sup_tensor_zeros(&c, SUP_F32, TU_SHAPE(4));
	TU_CHECK(sup_add(&c, a, b) == NULL);
	TU_CHECK(sup_ctx_status(&c) == SUP_ERR_SHAPE);
	TU_CHECK_MSG(strstr(sup_ctx_error(&c), "add") && strstr(sup_ctx_error(&c), "[2, 3]") &&
			     strstr(sup_ctx_error(&c), "[4]"),
		     "message: %s", sup_ctx_error(&c));
	/* sticky: later ops return NULL */
	TU_CHECK(sup_relu(&c, a) == NULL);
	sup_ctx_clear_error(&c);

	struct sup_tensor *p = sup_tensor_zeros(&c, SUP_F32, TU_SHAPE(2, 3, 4));
	struct sup_tensor *q = sup_tensor_zeros(&c, SUP_F32, TU_SHAPE(2, 1, 5));
	TU_CHECK(sup_maximum(&c, p, q) == NULL && sup_ctx_status(&c) == SUP_ERR_SHAPE);
	TU_CHECK_MSG(strstr(sup_ctx_error(&c), "[2, 3, 4]") && strstr(sup_ctx_error(&c), "[2, 1, 5]"), "message: %s",
		     sup_ctx_error(&c));
	sup_ctx_clear_error(&c);

	struct sup_tensor *d = sup_tensor_zeros(&c, SUP_F64, TU_SHAPE(2, 3));
	TU_CHECK(sup_mul(&c, a, d) == NULL && sup_ctx_status(&c) == SUP_ERR_DTYPE);
	sup_ctx_clear_error(&c);
	struct sup_tensor *ii = sup_tensor_zeros(&c, SUP_I64, TU_SHAPE(2, 3));
	TU_CHECK(sup_exp(&c, ii) == NULL && sup_ctx_status(&c) == SUP_ERR_DTYPE);
	sup_ctx_clear_error(&c);
	TU_CHECK(sup_where(&c, a, a, a) == NULL && sup_ctx_status(&c) == SUP_ERR_DTYPE); /* cond not u8 */
	sup_ctx_clear_error(&c);
	struct sup_tensor *cond = sup_tensor_zeros(&c, SUP_U8, TU_SHAPE(5));
	TU_CHECK(sup_where(&c, cond, a, a) == NULL && sup_ctx_status(&c) == SUP_ERR_SHAPE);
	sup_ctx_clear_error(&c);
	struct sup_tensor *w2 = sup_tensor_zeros(&c, SUP_F32, TU_SHAPE(2));
	TU_CHECK(sup_prelu(&c, a, w2) == NULL && sup_ctx_status(&c) == SUP_ERR_SHAPE); /* C = 3 */
	TU_CHECK_MSG(strstr(sup_ctx_error(&c), "prelu") != NULL, "message: %s", sup_ctx_error(&c));
	sup_ctx_clear_error(&c);
	TU_CHECK(sup_clamp(&c, a, 1, -1) == NULL && sup_ctx_status(&c) == SUP_ERR_ARG);
	sup_ctx_clear_error(&c);
	TU_CHECK(sup_dropout(&c, a, 1.0, true) == NULL && sup_ctx_status(&c) == SUP_ERR_ARG);
	sup_ctx_clear_error(&c);
	TU_CHECK(sup_dropout(&c, a, -0.1, false) == NULL && sup_ctx_status(&c) == SUP_ERR_ARG);
	sup_ctx_clear_error(&c);
	TU_CHECK(sup_dropout(&c, a, NAN, true) == NULL && sup_ctx_status(&c) == SUP_ERR_ARG);
	sup_ctx_clear_error(&c);
	/* a NULL input (an earlier failure) stays silent */
	TU_CHECK(sup_add(&c, NULL, a) == NULL && sup_ctx_status(&c) == SUP_OK);
	TU_CHECK(sup_gelu(&c, NULL, true) == NULL && sup_ctx_status(&c) == SUP_OK);
	sup_ctx_deinit(&c);
}

/* ---- dropout ---------------------------------------------------------------------------------- */

static void test_dropout(void)
{
	for (int k = 0; k < N_CFGS; k++) {
		struct sup_ctx c;
		tu_ctx(&c, 77);
		c.backend = cfgs[k].be;
		const int64_t n = 100000;
		struct sup_tensor *x = sup_tensor_new(&c, cfgs[k].dt, 1, &n);
		for (int64_t i = 0; i < n; i++)
			sup_tensor_set(x, i, 1.0 + (double)(i % 13));
		x->requires_grad = true;
		c.rng.counter = 6; /* not a multiple of 4: blocks of the generator straddle the start */
		const struct sup_rng r0 = c.rng;
		const double p = 0.3;
		struct sup_tensor *y1 = sup_dropout(&c, x, p, true);
		TU_CHECK(c.rng.key == r0.key && c.rng.counter == r0.counter + (uint64_t)n);
		struct sup_tensor *y2 = sup_dropout(&c, x, p, true); /* fresh numbers */
		c.rng = r0;
		struct sup_tensor *y3 = sup_dropout(&c, x, p, true); /* replayed */
		TU_CHECK(y1 && y2 && y3);
		if (!y1 || !y2 || !y3) {
			sup_ctx_deinit(&c);
			continue;
		}
		int64_t kept = 0, same12 = 0, bad_spec = 0, bad_scale = 0, diff13 = 0;
		for (int64_t i = 0; i < n; i++) {
			double v1 = sup_tensor_get(y1, i), xv = sup_tensor_get(x, i);
			bool keep = (double)sup_rng_uniform_at(r0.key, r0.counter + (uint64_t)i) >= p;
			kept += v1 != 0;
			same12 += (v1 != 0) == (sup_tensor_get(y2, i) != 0);
			bad_spec += keep != (v1 != 0);
			bad_scale += keep && fabs(v1 - xv / (1 - p)) > 1e-6 * fabs(v1);
			diff13 += v1 != sup_tensor_get(y3, i);
		}
		const double rate = (double)kept / (double)n;
		TU_CHECK_MSG(fabs(rate - (1 - p)) < 0.01, "keep rate %g", rate); /* ~7 standard deviations */
		TU_CHECK(bad_spec == 0 && bad_scale == 0 && diff13 == 0);
		TU_CHECK_MSG(same12 < n * 0.7, "consecutive masks agree on %lld of %lld", (long long)same12, (long long)n);
		backward_ones(&c, y3);
		int64_t bad_grad = 0;
		for (int64_t i = 0; i < n; i++) {
			double g = sup_tensor_grad_get(x, i), want = sup_tensor_get(y3, i) != 0 ? 1 / (1 - p) : 0;
			bad_grad += fabs(g - want) > 1e-6;
		}
		TU_CHECK(bad_grad == 0);

		/* identity without drawing: p == 0 or evaluation */
		const struct sup_rng r1 = c.rng;
		TU_CHECK(sup_dropout(&c, x, 0.0, true) == x);
		TU_CHECK(sup_dropout(&c, x, 0.5, false) == x);
		TU_CHECK(c.rng.counter == r1.counter && c.rng.key == r1.key);
		TU_CHECK(sup_ctx_status(&c) == SUP_OK);
		sup_ctx_deinit(&c);
	}
}

int main(void)
{
	test_unary();
	test_stable_tails();
	test_binary();
	test_broadcast();
	test_where();
	test_prelu();
	test_views();
	test_errors();
	test_dropout();
	return tu_finish("ops/elementwise");
}
