/* Model blocks: naming, layout and alignment, initialiser statistics, errors, zero-grad. */
#include "testutil.h"
#include "selfsup/nn.h"

#include <string.h>

static void test_layout_and_names(void)
{
	struct sup_model m;
	sup_model_init(&m, sup_allocator_default());
	int w = sup_model_add(&m, "encoder.layer1.0", "conv1.weight", SUP_KIND_PARAM, 4, (const int64_t[]){ 8, 3, 3, 3 },
			      SUP_INIT_KAIMING_UNIFORM, sqrt(5.0), 0);
	int b = sup_model_add(&m, "encoder", "bias", SUP_KIND_PARAM, 1, (const int64_t[]){ 7 }, SUP_INIT_ZEROS, 0,
			      SUP_PARAM_NO_DECAY);
	int rm = sup_model_add(&m, "encoder.bn", "running_var", SUP_KIND_BUFFER, 1, (const int64_t[]){ 7 }, SUP_INIT_ONES, 0, 0);
	TU_CHECK(w == 0 && b == 1 && rm == 2);
	TU_CHECK(sup_model_add(&m, "encoder", "bias", SUP_KIND_PARAM, 1, (const int64_t[]){ 7 }, SUP_INIT_ZEROS, 0, 0) == -1);
	TU_CHECK(m.err == SUP_ERR_ARG && strstr(m.err_msg, "encoder.bias"));
	m.err = SUP_OK; /* continue the test after the expected error */
	struct sup_rng r = sup_rng_make(1, 1);
	TU_CHECK(sup_model_build(&m, &r) == SUP_OK);
	TU_CHECK(sup_model_find(&m, "encoder.layer1.0.conv1.weight") == w);
	TU_CHECK(sup_model_find(&m, "nope") == -1);
	struct sup_tensor *tw = sup_model_tensor(&m, w), *tb = sup_model_tensor(&m, b), *tr = sup_model_tensor(&m, rm);
	TU_CHECK(((uintptr_t)tw->data % 64) == 0 && ((uintptr_t)tb->data % 64) == 0);
	TU_CHECK(tw->requires_grad && tw->grad == (void *)(m.grads + 0) && !tr->requires_grad && tr->grad == NULL);
	TU_CHECK(sup_tensor_get(tr, 6) == 1.0 && sup_tensor_get(tb, 0) == 0.0);
	/* Kaiming uniform with a = sqrt(5): bound = 1 / sqrt(fan_in), fan_in = 27. */
	double bound = 1.0 / sqrt(27.0), mx = 0;
	for (int i = 0; i < 216; i++)
		mx = fmax(mx, fabs(sup_tensor_get(tw, i)));
	TU_CHECK(mx <= bound && mx > 0.8 * bound);
	TU_CHECK(sup_model_add(&m, "", "late", SUP_KIND_PARAM, 0, NULL, SUP_INIT_ZEROS, 0, 0) == -1 && m.err == SUP_ERR_STATE);
	((float *)tw->grad)[3] = 5;
	sup_model_zero_grad(&m);
	TU_CHECK(((float *)tw->grad)[3] == 0);
	sup_model_deinit(&m);
}

static void test_init_statistics(void)
{
	struct sup_model m;
	sup_model_init(&m, sup_allocator_default());
	int n = sup_model_add(&m, "", "n", SUP_KIND_PARAM, 2, (const int64_t[]){ 200, 100 }, SUP_INIT_NORMAL, 0.02, 0);
	int t = sup_model_add(&m, "", "t", SUP_KIND_PARAM, 2, (const int64_t[]){ 200, 100 }, SUP_INIT_TRUNC_NORMAL, 0.5, 0);
	int k = sup_model_add(&m, "", "k", SUP_KIND_PARAM, 4, (const int64_t[]){ 64, 32, 3, 3 }, SUP_INIT_KAIMING_NORMAL, 0, 0);
	struct sup_rng r = sup_rng_make(2, 2);
	sup_model_build(&m, &r);
	double s = 0, mx = 0;
	for (int i = 0; i < 20000; i++)
		s += pow(sup_tensor_get(sup_model_tensor(&m, n), i), 2);
	TU_CHECK_NEAR(sqrt(s / 20000), 0.02, 0.001);
	for (int i = 0; i < 20000; i++)
		mx = fmax(mx, fabs(sup_tensor_get(sup_model_tensor(&m, t), i)));
	TU_CHECK(mx <= 1.0 && mx > 0.9);
	s = 0;
	for (int i = 0; i < 64 * 32 * 9; i++)
		s += pow(sup_tensor_get(sup_model_tensor(&m, k), i), 2);
	TU_CHECK_NEAR(s / (64 * 32 * 9), 2.0 / (64 * 9), 0.1 * 2.0 / (64 * 9)); /* fan_out = 64 * 3 * 3 */
	sup_model_deinit(&m);
}

int main(void)
{
	test_layout_and_names();
	test_init_statistics();
	return tu_finish("model");
}
