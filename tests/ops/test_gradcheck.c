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

int main(void)
{
	const struct gradcase *groups[] = {
#define GRADCASE_REF(g) gradcases_##g,
		GRADCASE_GROUPS(GRADCASE_REF)
#undef GRADCASE_REF
	};
	int n_ops = sup_op_count();
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
		}
	return tu_finish("gradcheck");
}
