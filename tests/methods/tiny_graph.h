/* A tiny graph folder in the layout of ../shared/data/README.md §2, written with sup_npy_save,
 * with what real graph data has: 12 nodes, 6 features, 3 classes; node 10 isolated, node 11 with
 * an all-zero feature row, nodes 3 and 7 unlabelled (y = -1); masks train 0-5, val 6-7, test 8-11;
 * 16 undirected edges (a ring over 0..9, five chords, 11 - 0). Shared by the method and CLI tests. */
#ifndef SELFSUP_TESTS_TINY_GRAPH_H
#define SELFSUP_TESTS_TINY_GRAPH_H

#include "selfsup/io.h"
#include "testutil.h"

#include <string.h>

#define N 12
#define F 6

static const int32_t y_init[N] = {0, 1, 2, -1, 0, 1, 2, -1, 0, 1, 2, 0};
/* ring over 0..9, five chords, 11 - 0; node 10 isolated */
static const int32_t und[][2] = {{0, 1}, {1, 2}, {2, 3}, {3, 4}, {4, 5}, {5, 6}, {6, 7}, {7, 8},
				 {8, 9}, {9, 0}, {0, 5}, {2, 7}, {1, 6}, {3, 8}, {4, 9}, {0, 11}};
#define N_UND ((int64_t)(sizeof und / sizeof und[0]))

static void tiny_save(const char *dir, const char *name, enum sup_dtype dt, int ndim, const int64_t *shape, void *data)
{
	char path[256], err[256];
	struct sup_tensor t;
	sup_tensor_init(&t, dt, ndim, shape, data);
	snprintf(path, sizeof path, "%s/%s", dir, name);
	TU_CHECK_MSG(sup_npy_save(path, &t, err, sizeof err) == SUP_OK, "%s", err);
}

static void tiny_graph_write(const char *dir)
{
	int64_t indptr[N + 1] = {0}, shape[2] = {N, F};
	int32_t idx[N * F], ei[2 * 2 * N_UND];
	float val[N * F];
	uint8_t tr[N] = {0}, va[N] = {0}, te[N] = {0};
	int64_t nnz = 0;
	struct sup_rng r = sup_rng_make(7, 0);
	for (int i = 0; i < N; i++) {
		for (int j = 0; j < F && i != 11; j++) /* row 11: no features at all */
			if (j == i % F || sup_rng_uniform(&r) < 0.4f)
				idx[nnz] = j, val[nnz++] = 1.0f;
		indptr[i + 1] = nnz;
	}
	for (int64_t e = 0; e < N_UND; e++) { /* row 0 sources, row 1 targets, both directions */
		ei[2 * e] = und[e][0], ei[2 * N_UND + 2 * e] = und[e][1];
		ei[2 * e + 1] = und[e][1], ei[2 * N_UND + 2 * e + 1] = und[e][0];
	}
	for (int i = 0; i < N; i++)
		tr[i] = i < 6, va[i] = i == 6 || i == 7, te[i] = i >= 8;
	tiny_save(dir, "x_indptr.npy", SUP_I64, 1, (const int64_t[]){N + 1}, indptr);
	tiny_save(dir, "x_indices.npy", SUP_I32, 1, (const int64_t[]){nnz}, idx);
	tiny_save(dir, "x_data.npy", SUP_F32, 1, (const int64_t[]){nnz}, val);
	tiny_save(dir, "x_shape.npy", SUP_I64, 1, (const int64_t[]){2}, shape);
	tiny_save(dir, "y.npy", SUP_I32, 1, (const int64_t[]){N}, (void *)y_init);
	tiny_save(dir, "edge_index.npy", SUP_I32, 2, (const int64_t[]){2, 2 * N_UND}, ei);
	tiny_save(dir, "train_mask.npy", SUP_U8, 1, (const int64_t[]){N}, tr);
	tiny_save(dir, "val_mask.npy", SUP_U8, 1, (const int64_t[]){N}, va);
	tiny_save(dir, "test_mask.npy", SUP_U8, 1, (const int64_t[]){N}, te);
}

#endif
