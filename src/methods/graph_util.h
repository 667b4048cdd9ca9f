/* Pieces shared by the graph methods (dgi.c, gae.c): feature preprocessing, DGI's corruption and
 * the edge-imbalance weights of GAE's reconstruction loss. Internal to the library (tests include
 * it to check the formulas); not a public header. */
#ifndef SELFSUP_METHODS_GRAPH_UTIL_H
#define SELFSUP_METHODS_GRAPH_UTIL_H

#include "selfsup/method.h"

/* Row-normalised copy of an f32 CSR (each row divided by its sum of absolute values; rows that
 * sum to 0 stay 0), as DGI's and GCN's preprocess_features: values in c's arena, structure
 * shared. NULL with c's error set on failure. */
const struct sup_csr *sup_graph_csr_row_normalize(struct sup_ctx *c, const struct sup_csr *x);

/* The CSR whose row i is row perm[i] of x (P X for the permutation matrix P), in c's arena:
 * DGI's corruption, a row shuffle of the feature matrix. */
const struct sup_csr *sup_graph_csr_permute_rows(struct sup_ctx *c, const struct sup_csr *x, const int64_t *perm);

/* GAE's weights for the reconstruction of the label matrix A + I (Kipf & Welling 2016, the
 * authors' code, train.py): with N nodes and E the stored off-diagonal entries of adj (directed
 * edges of the training graph, self loops not counted),
 *   pos_weight = (N^2 - E) / E           (weight of the positive entries in the BCE)
 *   norm       = N^2 / (2 (N^2 - E))     (scale of the mean BCE over all N^2 pairs)
 * so that positives and negatives contribute equally. E = 0 gives pos_weight 1. */
void sup_gae_edge_weights(const struct sup_csr *adj, double *pos_weight, double *norm);

/* The positive entries of the label matrix A + I: the (row, column) of every entry adj stores,
 * plus the diagonal where adj lacks it, as i64 [P] tensors in c's arena (row-major order). */
enum sup_status sup_gae_positive_pairs(struct sup_ctx *c, const struct sup_csr *adj, struct sup_tensor **rows,
				       struct sup_tensor **cols);

/* Checks that b is a whole-graph batch with sparse features of F columns; fails c with a message
 * naming `who` otherwise. */
bool sup_graph_batch_ok(struct sup_ctx *c, const struct sup_method_batch *b, int64_t F, const char *who);

#endif
