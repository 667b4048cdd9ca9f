/* tensor layer: shapes, creation, element access, views and contiguous copies. */
#include "testutil.h"

#include <string.h>

static void test_shapes(void)
{
	char buf[64];
	TU_CHECK(strcmp(sup_shape_str(buf, sizeof buf, 3, (const int64_t[]){ 2, 3, 4 }), "[2, 3, 4]") == 0);
	TU_CHECK(strcmp(sup_shape_str(buf, sizeof buf, 0, NULL), "[]") == 0);
	/* A buffer too small truncates without overflowing. */
	char tiny[4];
	sup_shape_str(tiny, sizeof tiny, 3, (const int64_t[]){ 200, 300, 400 });
	TU_CHECK(strlen(tiny) == 3);
	TU_CHECK(sup_shape_numel(0, NULL) == 1);
	TU_CHECK(sup_dtype_size(SUP_F64) == 8 && sup_dtype_size(SUP_U8) == 1);
	TU_CHECK(strcmp(sup_dtype_name(SUP_I32), "i32") == 0);
}

static void test_creation_and_errors(void)
{
	struct sup_ctx c;
	tu_ctx(&c, 1);
	struct sup_tensor *t = sup_tensor_full(&c, SUP_F32, 2, (const int64_t[]){ 2, 3 }, 1.5);
	TU_CHECK(t && sup_tensor_is_contiguous(t) && sup_tensor_numel(t) == 6);
	TU_CHECK(((uintptr_t)t->data % 64) == 0);
	TU_CHECK(sup_tensor_get(t, 5) == 1.5);
	struct sup_tensor *i = sup_tensor_to(&c, t, SUP_I32);
	TU_CHECK(i && i->dtype == SUP_I32 && sup_tensor_get(i, 0) == 1.0);
	TU_CHECK(sup_tensor_new(&c, SUP_F32, 7, (const int64_t[]){ 1, 1, 1, 1, 1, 1, 1 }) == NULL);
	TU_CHECK(sup_ctx_status(&c) == SUP_ERR_SHAPE);
	TU_CHECK(sup_tensor_new(&c, SUP_F32, 1, (const int64_t[]){ 3 }) == NULL); /* sticky */
	sup_ctx_reset(&c);
	TU_CHECK(sup_tensor_new(&c, SUP_F32, 2, (const int64_t[]){ 2, -1 }) == NULL);
	TU_CHECK(strstr(sup_ctx_error(&c), "[2, -1]") != NULL);
	sup_ctx_reset(&c);
	struct sup_tensor *z = sup_tensor_zeros(&c, SUP_I64, 1, (const int64_t[]){ 0 });
	TU_CHECK(z && sup_tensor_numel(z) == 0);
	struct sup_tensor *s = sup_tensor_scalar(&c, SUP_F64, 2.25);
	TU_CHECK(s && s->ndim == 0 && sup_tensor_get(s, 0) == 2.25);
	sup_ctx_deinit(&c);
}

/* a[i][j][k] = 100 i + 10 j + k: every view can be checked element by element. */
static struct sup_tensor *iota3(struct sup_ctx *c)
{
	struct sup_tensor *a = sup_tensor_new(c, SUP_F32, 3, (const int64_t[]){ 2, 3, 4 });
	for (int i = 0; i < 2; i++)
		for (int j = 0; j < 3; j++)
			for (int k = 0; k < 4; k++)
				((float *)a->data)[i * 12 + j * 4 + k] = (float)(100 * i + 10 * j + k);
	return a;
}

static void test_views(void)
{
	struct sup_ctx c;
	tu_ctx(&c, 2);
	struct sup_tensor *a = iota3(&c);
	struct sup_tensor *p = sup_permute(&c, a, (const int[]){ 2, 0, 1 });
	TU_CHECK(p && p->shape[0] == 4 && p->shape[1] == 2 && p->shape[2] == 3 && !sup_tensor_is_contiguous(p));
	TU_CHECK(p->data == a->data);
	TU_CHECK(*(float *)sup_tensor_ptr(p, (const int64_t[]){ 3, 1, 2 }) == 123.0f);
	struct sup_tensor *pc = sup_contiguous(&c, p);
	TU_CHECK(pc && sup_tensor_is_contiguous(pc) && pc->data != a->data);
	TU_CHECK(sup_tensor_get(pc, 0 * 6 + 1 * 3 + 2) == 120.0);
	struct sup_tensor *s = sup_slice(&c, a, 2, -3, 100, 2); /* k = 1, 3 */
	TU_CHECK(s && s->shape[2] == 2);
	TU_CHECK(sup_tensor_get(s, 0) == 1.0 && sup_tensor_get(s, 1) == 3.0 && sup_tensor_get(s, 2) == 11.0);
	struct sup_tensor *e = sup_slice(&c, a, 1, 2, 1, 1);
	TU_CHECK(e && e->shape[1] == 0);
	struct sup_tensor *r = sup_reshape(&c, a, 2, (const int64_t[]){ -1, 6 });
	TU_CHECK(r && r->shape[0] == 4 && r->data == a->data);
	struct sup_tensor *rt = sup_reshape(&c, sup_transpose(&c, a, 0, 2), 1, (const int64_t[]){ 24 });
	TU_CHECK(rt && sup_tensor_get(rt, 1) == 100.0); /* transposed order: (k=0,j=0,i=1) */
	TU_CHECK(sup_reshape(&c, a, 2, (const int64_t[]){ 5, -1 }) == NULL && sup_ctx_status(&c) == SUP_ERR_SHAPE);
	sup_ctx_reset(&c);
	a = iota3(&c);
	TU_CHECK(sup_permute(&c, a, (const int[]){ 0, 0, 1 }) == NULL && sup_ctx_status(&c) == SUP_ERR_ARG);
	sup_ctx_deinit(&c);
}

int main(void)
{
	test_shapes();
	test_creation_and_errors();
	test_views();
	return tu_finish("tensor");
}
