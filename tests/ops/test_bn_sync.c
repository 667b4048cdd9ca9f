/* Synchronised batch norm: two "processes" (threads, with a barrier allreduce) each normalising
 * half of a batch give the full batch's output, input gradient, running statistics, and (summed
 * over the two) parameter gradients. */
#define _POSIX_C_SOURCE 200809L /* pthread barriers */

#include "testutil.h"

#include <pthread.h>
#include <string.h>

#define N 6
#define C 3
#define HW 4

/* An allreduce over two threads: each posts its buffer, then both read the sum (slot 0 + slot 1
 * in that order, so both get bitwise the same numbers). */
struct allreduce2 {
	pthread_barrier_t bar;
	double *slot[2];
};
struct rank_hook {
	struct allreduce2 *ar;
	int rank;
};

static enum sup_status sum2(void *user, double *buf, int64_t n)
{
	struct rank_hook *h = user;
	h->ar->slot[h->rank] = buf;
	pthread_barrier_wait(&h->ar->bar);
	double tmp[64];
	for (int64_t i = 0; i < n; i++)
		tmp[i] = h->ar->slot[0][i] + h->ar->slot[1][i];
	pthread_barrier_wait(&h->ar->bar);
	memcpy(buf, tmp, sizeof(double) * (size_t)n);
	return SUP_OK;
}

struct job {
	const double *x, *dy, *w, *b;
	int64_t n0, n; /* rows of the batch this job normalises */
	const struct sup_bn_sync *sync;
	double y[N * C * HW], dx[N * C * HW], dw[C], db[C], rm[C], rv[C];
};

static void *run(void *arg)
{
	struct job *j = arg;
	struct sup_ctx c;
	tu_ctx(&c, 1);
	const int64_t per = C * HW;
	struct sup_tensor *x = sup_tensor_wrap(&c, SUP_F64, 4, (const int64_t[]){ j->n, C, 2, 2 }, (void *)(j->x + j->n0 * per));
	struct sup_tensor *w = sup_tensor_wrap(&c, SUP_F64, 1, (const int64_t[]){ C }, (void *)j->w);
	struct sup_tensor *b = sup_tensor_wrap(&c, SUP_F64, 1, (const int64_t[]){ C }, (void *)j->b);
	struct sup_tensor *rm = sup_tensor_zeros(&c, SUP_F64, 1, (const int64_t[]){ C });
	struct sup_tensor *rv = sup_tensor_full(&c, SUP_F64, 1, (const int64_t[]){ C }, 1.0);
	x->requires_grad = w->requires_grad = b->requires_grad = true;
	struct sup_batch_norm_args args = { .training = true, .momentum = 0.1, .eps = 1e-5, .sync = j->sync };
	struct sup_tensor *y = sup_batch_norm(&c, x, w, b, rm, rv, &args);
	TU_CHECK(y != NULL);
	if (y && sup_backward_grad(&c, y, j->dy + j->n0 * per) == SUP_OK) {
		memcpy(j->y, y->data, sizeof(double) * (size_t)(j->n * per));
		memcpy(j->dx, x->grad, sizeof(double) * (size_t)(j->n * per));
		memcpy(j->dw, w->grad, sizeof j->dw);
		memcpy(j->db, b->grad, sizeof j->db);
		memcpy(j->rm, rm->data, sizeof j->rm);
		memcpy(j->rv, rv->data, sizeof j->rv);
	}
	TU_CHECK_MSG(sup_ctx_status(&c) == SUP_OK, "%s", sup_ctx_error(&c));
	sup_ctx_deinit(&c);
	return NULL;
}

int main(void)
{
	double x[N * C * HW], dy[N * C * HW], w[C] = { 1.5, -0.5, 2 }, b[C] = { 0.1, 0.2, -0.3 };
	struct sup_rng r = sup_rng_make(5, 5);
	for (int i = 0; i < N * C * HW; i++) {
		x[i] = 3 * sup_rng_normal(&r) + 1;
		dy[i] = sup_rng_normal(&r);
	}
	static struct job full, half[2];
	full = (struct job){ .x = x, .dy = dy, .w = w, .b = b, .n0 = 0, .n = N };
	run(&full);
	struct allreduce2 ar;
	pthread_barrier_init(&ar.bar, NULL, 2);
	struct rank_hook hooks[2] = { { &ar, 0 }, { &ar, 1 } };
	struct sup_bn_sync sync[2] = { { sum2, &hooks[0] }, { sum2, &hooks[1] } };
	pthread_t t[2];
	for (int k = 0; k < 2; k++) {
		half[k] = (struct job){ .x = x, .dy = dy, .w = w, .b = b, .n0 = k * (N / 2), .n = N / 2, .sync = &sync[k] };
		pthread_create(&t[k], NULL, run, &half[k]);
	}
	for (int k = 0; k < 2; k++)
		pthread_join(t[k], NULL);
	pthread_barrier_destroy(&ar.bar);
	const int per = (N / 2) * C * HW;
	double ey = 0, edx = 0, ep = 0, er = 0;
	for (int k = 0; k < 2; k++)
		for (int i = 0; i < per; i++) {
			ey = fmax(ey, fabs(half[k].y[i] - full.y[k * per + i]));
			edx = fmax(edx, fabs(half[k].dx[i] - full.dx[k * per + i]));
		}
	for (int ch = 0; ch < C; ch++) {
		ep = fmax(ep, fabs(half[0].dw[ch] + half[1].dw[ch] - full.dw[ch]));
		ep = fmax(ep, fabs(half[0].db[ch] + half[1].db[ch] - full.db[ch]));
		for (int k = 0; k < 2; k++)
			er = fmax(er, fmax(fabs(half[k].rm[ch] - full.rm[ch]), fabs(half[k].rv[ch] - full.rv[ch])));
	}
	TU_CHECK_MSG(ey < 1e-12, "outputs differ by %g", ey);
	TU_CHECK_MSG(edx < 1e-12, "input gradients differ by %g", edx);
	TU_CHECK_MSG(ep < 1e-12, "summed parameter gradients differ by %g", ep);
	TU_CHECK_MSG(er < 1e-12, "running statistics differ by %g", er);
	/* Without sync the halves normalise with their own statistics: the outputs must differ. */
	struct job local = { .x = x, .dy = dy, .w = w, .b = b, .n0 = 0, .n = N / 2 };
	run(&local);
	double el = 0;
	for (int i = 0; i < per; i++)
		el = fmax(el, fabs(local.y[i] - full.y[i]));
	TU_CHECK_MSG(el > 1e-3, "local statistics should differ from the global ones (diff %g)", el);
	return tu_finish("bn_sync");
}
