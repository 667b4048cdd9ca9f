/* Runs every gradcheck case and fails for any op of the table without one. */
#include "gradcase.h"
#include "ops/op_internal.h"

#include <string.h>

static int run_case(const struct gradcase *gc)
{
	struct sup_ctx c;
	tu_ctx(&c, 1234);
	c.backend = SUP_BACKEND_REF;
	struct sup_rng r = sup_rng_make(42, 7);
	struct sup_tensor *in[8] = { 0 };
	int n = gc->setup(&c, &r, in);
	struct sup_gradcheck_opts o = { .atol = gc->atol, .rtol = gc->rtol };
	struct sup_gradcheck_report rep;
	enum sup_status st = n > 0 ? sup_gradcheck(&c, gc->fn, NULL, in, n, &o, &rep) : c.err;
	int ok = st == SUP_OK && rep.ok;
	TU_CHECK_MSG(ok, "%s [%s]: status %s %s; checked %lld skipped %lld; worst input %d[%lld]: analytic %.9g numeric %.9g",
		     gc->op, gc->name, sup_status_str(st), sup_ctx_error(&c), (long long)rep.checked,
		     (long long)rep.skipped, rep.worst_input, (long long)rep.worst_index, rep.worst_analytic,
		     rep.worst_numeric);
	sup_ctx_deinit(&c);
	return ok;
}

/* Runs a case in f32 on one backend: output and input gradients for output gradient r. */
struct f32_run {
	struct sup_tensor *out;
	struct sup_tensor *in[8];
	int n;
};

static int run_f32(struct sup_ctx *c, const struct gradcase *gc, enum sup_backend be, struct f32_run *run)
{
	struct sup_rng r = sup_rng_make(42, 7);
	struct sup_tensor *in64[8] = { 0 };
	run->n = gc->setup(c, &r, in64);
	for (int i = 0; i < run->n; i++) {
		run->in[i] = in64[i]->dtype == SUP_F64 ? sup_tensor_to(c, in64[i], SUP_F32) : in64[i];
		if (run->in[i])
			run->in[i]->requires_grad = in64[i]->requires_grad;
	}
	c->backend = be;
	c->rng = sup_rng_make(1234, 0x5e1f5c);
	run->out = gc->fn(c, run->in, NULL);
	if (!run->out || c->err || run->out->dtype != SUP_F32)
		return -1;
	struct sup_tensor *g = sup_tensor_new_like(c, run->out);
	struct sup_rng rg = sup_rng_make(3, 3);
	if (!g)
		return -1;
	sup_tensor_fill_uniform(g, &rg, -1, 1);
	return sup_backward_grad(c, run->out, g->data) == SUP_OK ? 0 : -1;
}

/* The fast CPU kernels against the reference kernels, through the ops, in f32. Returns 1 when
 * compared, 0 when the case cannot run in f32 (it builds f64 constants itself). */
static int compare_backends(const struct gradcase *gc)
{
	struct sup_ctx c1, c2;
	tu_ctx(&c1, 1234);
	tu_ctx(&c2, 1234);
	struct f32_run a, b;
	int ok_a = run_f32(&c1, gc, SUP_BACKEND_CPU, &a), ok_b = run_f32(&c2, gc, SUP_BACKEND_REF, &b);
	int compared = 0;
	if (ok_a == 0 && ok_b == 0) {
		compared = 1;
		double big = 0;
		for (int64_t j = 0; j < sup_tensor_numel(b.out); j++)
			big = fmax(big, fabs(sup_tensor_get(b.out, j)));
		TU_CHECK_MSG(tu_max_abs_diff(a.out, b.out) <= 1e-4 * (1.0 + big), "%s [%s]: cpu and ref outputs differ by %g",
			     gc->op, gc->name, tu_max_abs_diff(a.out, b.out));
		for (int i = 0; i < a.n; i++) {
			if (!a.in[i]->requires_grad)
				continue;
			double m = 0;
			for (int64_t j = 0; j < sup_tensor_numel(a.in[i]); j++) {
				double d = fabs(sup_tensor_grad_get(a.in[i], j) - sup_tensor_grad_get(b.in[i], j));
				double tol = 1e-4 * (1.0 + fabs(sup_tensor_grad_get(b.in[i], j)));
				m = d - tol > m ? d - tol : m;
			}
			TU_CHECK_MSG(m <= 0, "%s [%s]: cpu and ref gradients of input %d differ (excess %g)", gc->op,
				     gc->name, i, m);
		}
	}
	sup_ctx_deinit(&c1);
	sup_ctx_deinit(&c2);
	return compared;
}

int main(void)
{
	const struct gradcase *groups[] = {
#define GRADCASE_REF(g) gradcases_##g,
		GRADCASE_GROUPS(GRADCASE_REF)
#undef GRADCASE_REF
	};
	int n_ops = sup_op_count(), compared = 0, total = 0;
	for (int i = 0; i < n_ops; i++) {
		const char *name = sup_op_name_at(i);
		const struct sup_op_def *def = sup_op_get(i);
		TU_CHECK_MSG(def != NULL, "op %s is in the table but not implemented", name);
		int cases = 0;
		for (size_t g = 0; g < sizeof groups / sizeof groups[0]; g++)
			for (const struct gradcase *gc = groups[g]; gc && gc->op; gc++)
				if (strcmp(gc->op, name) == 0)
					cases++;
		TU_CHECK_MSG(cases > 0, "op %s has no gradcheck case", name);
	}
	for (size_t g = 0; g < sizeof groups / sizeof groups[0]; g++)
		for (const struct gradcase *gc = groups[g]; gc && gc->op; gc++) {
			int known = 0;
			for (int i = 0; i < n_ops; i++)
				known |= strcmp(sup_op_name_at(i), gc->op) == 0;
			TU_CHECK_MSG(known, "case for an op not in the table: %s", gc->op);
			run_case(gc);
			compared += compare_backends(gc);
			total++;
		}
	printf("cpu vs ref backends compared on %d of %d cases (the others build f64 constants)\n", compared, total);
	return tu_finish("gradcheck");
}
