/* selfsup eval layer: evaluation protocols (docs/eval.md). All but fine-tuning work on frozen
 * representations given as arrays; fine-tuning trains through a method's encoder.
 *
 *   linear probe   multinomial logistic regression on standardised features, L2 chosen on a
 *                  validation split (src/eval/linear.c)
 *   kNN            weighted kNN on cosine similarity, Wu et al. 2018 (InstDisc) §3.4 (knn.c)
 *   clustering     k-means (k-means++ init, restarts) scored with NMI and ARI (cluster.c)
 *   link pred.     sigmoid(z_u . z_v) edge scores (Kipf & Welling 2016, GAE) with AUC / AP
 *                  (linkpred.c)
 *   metrics        top-k accuracy, NMI, ARI, AUC, AP, nats -> bits/byte, bits/dim, perplexity
 *                  (metrics.c)
 *   fine-tuning    encoder + linear head trained with cross-entropy, best epoch chosen on a
 *                  validation split (finetune.c)
 *
 * Conventions. Features are f32 [N, D] row-major in caller memory; nothing here keeps a pointer
 * after returning. Labels are int32, int64 or u8 class ids >= 0; -1 marks an unlabelled row, which
 * is excluded from fitting and scoring (any other negative value is an error). Every fallible
 * function returns enum sup_status and, on failure, writes a one-line message naming the problem
 * into err (which may be NULL; err_size counts the terminating NUL). Results are deterministic
 * given the seed and the thread count (OpenMP for loops, OpenBLAS for GEMMs); loops whose order
 * matters sum in a fixed order. */
#ifndef SELFSUP_EVAL_H
#define SELFSUP_EVAL_H

#include "selfsup/method.h"
#include "selfsup/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One split: features and (optional) labels. labels may be NULL only where a function says so. */
struct sup_eval_set {
	const float *x;             /* [n, d] row-major */
	const void *labels;         /* [n] of label_dtype: class id >= 0, or -1 = unlabelled */
	enum sup_dtype label_dtype; /* SUP_I32, SUP_I64 or SUP_U8 */
	int64_t n, d;
};

/* Label i of a set as int64 (-1 when labels is NULL). Contract: i in [0, n), dtype valid. */
int64_t sup_eval_set_label(const struct sup_eval_set *s, int64_t i);

/* Checks a set (x non-NULL, n >= 0, d >= 1, a label dtype above, no label < -1); `name` ("train",
 * "test", ...) prefixes the message. Outputs (each may be NULL): the number of labelled rows and
 * the largest label (-1 when none). */
enum sup_status sup_eval_set_check(const struct sup_eval_set *s, const char *name, bool need_labels,
				   int64_t *n_labelled, int64_t *max_label, char *err, size_t err_size);

/* ---- linear probe (linear.c) ---------------------------------------------------------------- */

#define SUP_EVAL_MAX_GRID 32

/* Multinomial logistic regression: minimise over W [D, C], b [C]
 *   f = (1/n) sum_i [logsumexp(W^T x_i + b) - (W^T x_i + b)_{y_i}] + (l2 / 2) ||W||_F^2
 * (bias not penalised) with full-batch L-BFGS. A fit stops when ||grad f||_inf <= gtol, when
 * an iteration lowers f by less than ftol * max(|f|, 1), when the line search cannot make progress
 * (f is flat to rounding), or after max_iter iterations. */
struct sup_linear_probe_opts {
	int n_classes;              /* 0: 1 + the largest label in any split */
	int n_l2;                   /* entries of l2[] used; 0 = the default grid */
	double l2[SUP_EVAL_MAX_GRID]; /* candidate L2 strengths (> 0 or 0), any order */
	double val_fraction;        /* hold-out of labelled train rows when no val split is given (0.1) */
	uint64_t seed;              /* the hold-out draw */
	bool refit;                 /* refit on train + val with the chosen l2 (true) */
	int max_iter;               /* L-BFGS iterations per fit (100) */
	int history;                /* L-BFGS memory (10) */
	double gtol;                /* 1e-4 */
	double ftol;                /* 1e-9 */
};

/* Defaults: l2 grid 1e-6, 1e-5, ..., 1e-1 (6 values), val_fraction 0.1, seed 0, refit, 100
 * iterations, history 10, gtol 1e-4, ftol 1e-9, n_classes inferred. */
void sup_linear_probe_opts_default(struct sup_linear_probe_opts *o);

struct sup_logreg_info {
	double loss;     /* final objective f */
	double grad_inf; /* ||grad f||_inf at the end */
	int iters;       /* L-BFGS iterations */
	int evals;       /* objective evaluations */
	bool converged;  /* stopped on gtol / ftol / flat line search, not on max_iter */
};

/* Fits the model above on x [n, d] with labels y [n] in [0, c) (no unlabelled rows here).
 * w [d, c] and b [c] are read as the starting point (zeros for a cold start) and hold the fit on
 * return. The features are used as given (the probe standardises them before calling this).
 * Errors: SUP_ERR_ARG (n < 1, c < 2, label out of range, l2 < 0), SUP_ERR_NOMEM. */
enum sup_status sup_logreg_fit(const float *x, const int32_t *y, int64_t n, int64_t d, int c, double l2,
			       const struct sup_linear_probe_opts *o, float *w, float *b,
			       struct sup_logreg_info *info, char *err, size_t err_size);

struct sup_linear_probe_result {
	double top1;            /* test accuracy, fraction of labelled test rows */
	double top5;            /* when has_top5 (n_classes > 5) */
	bool has_top5;
	double l2;              /* the chosen strength */
	double val_top1;        /* validation accuracy at the chosen strength */
	int n_l2;
	double grid_l2[SUP_EVAL_MAX_GRID];      /* the grid in the order tried (largest first) */
	double grid_val_top1[SUP_EVAL_MAX_GRID];
	double train_top1;      /* final model on the rows it was fitted on */
	int n_classes;
	int64_t n_train, n_val, n_test; /* labelled rows used by each split */
	int iters;              /* L-BFGS iterations over all fits */
	bool converged;         /* the final fit converged (see sup_logreg_info) */
};

/* The linear probe protocol. Features are standardised with the per-dimension mean and std of
 * all train rows (std 0 -> 1), applied to every split. Each l2 of the grid is fitted on the
 * labelled train rows (minus the hold-out when val is NULL: a seeded val_fraction of them, at
 * least one row) from largest to smallest, each fit warm-started from the previous one, and
 * scored top-1 on val; the best (ties: the larger l2) is refitted on train + val (when refit)
 * and scored on test.
 * train: labels required, >= 2 labelled rows when val is NULL. val: NULL or labelled rows.
 * test: labelled rows are scored (at least one). All splits share d.
 * Errors: SUP_ERR_SHAPE (d differs), SUP_ERR_ARG (no labelled rows, bad labels or options),
 * SUP_ERR_NOMEM. */
enum sup_status sup_eval_linear_probe(const struct sup_eval_set *train, const struct sup_eval_set *val,
				      const struct sup_eval_set *test, const struct sup_linear_probe_opts *opts,
				      struct sup_linear_probe_result *out, char *err, size_t err_size);

/* ---- weighted kNN (knn.c) ------------------------------------------------------------------- */

/* Wu et al. 2018, "Unsupervised Feature Learning via Non-Parametric Instance Discrimination",
 * §3.4: features are L2-normalised, s_i = cos(f, f_i); the k most similar labelled train rows vote
 * for their class with weight exp(s_i / tau); the prediction is the class of largest total. */
struct sup_knn_opts {
	int k;         /* 200 (clamped to the number of labelled train rows) */
	double tau;    /* 0.07 */
	int n_classes; /* 0: 1 + the largest label in train or test */
};
void sup_knn_opts_default(struct sup_knn_opts *o);

struct sup_knn_result {
	double top1, top5; /* over labelled test rows; top5 when has_top5 (n_classes > 5) */
	bool has_top5;
	int k;             /* neighbours used */
	int n_classes;
	int64_t n_eval;    /* labelled test rows scored */
};

/* Similarities are computed block by block (GEMM of a block of test rows against a block of
 * train rows), never as an N x N matrix. Neighbours of equal similarity: the lower train index
 * wins; classes of equal vote: the lower id wins.
 * train: labels required (unlabelled rows are not neighbours). test: labels optional (NULL: no
 * accuracy, predictions only). pred: NULL or [test->n], the predicted class of every test row.
 * Errors: SUP_ERR_SHAPE (d differs), SUP_ERR_ARG (no labelled train rows, k < 1, tau <= 0, bad
 * labels), SUP_ERR_NOMEM. */
enum sup_status sup_eval_knn(const struct sup_eval_set *train, const struct sup_eval_set *test,
			     const struct sup_knn_opts *opts, struct sup_knn_result *out, int32_t *pred, char *err,
			     size_t err_size);

/* ---- clustering (cluster.c) ----------------------------------------------------------------- */

/* Lloyd's k-means with k-means++ seeding (Arthur & Vassilvitskii 2007). Each restart draws its
 * seeding from (seed, restart); a restart stops when the squared centre shift sum_k ||c_k -
 * c_k'||^2 <= tol * mean per-dimension variance of x (sklearn's rule) or after max_iter; the
 * restart of least inertia (sum of squared distances to the assigned centre) wins. An empty
 * cluster takes the point farthest from its centre. */
struct sup_kmeans_opts {
	int k;        /* clusters; 0 in sup_eval_cluster: the number of classes */
	int n_init;   /* restarts (10) */
	int max_iter; /* Lloyd iterations per restart (300) */
	double tol;   /* 1e-4 */
	uint64_t seed;
};
void sup_kmeans_opts_default(struct sup_kmeans_opts *o);

struct sup_kmeans_result {
	double inertia;
	int iters;      /* Lloyd iterations of the winning restart */
	int best_init;  /* which restart won */
	bool converged; /* the winning restart met tol */
};

/* x [n, d]; assign [n] receives cluster ids in [0, k); centroids: NULL or [k, d].
 * Errors: SUP_ERR_ARG (k < 1, k > n, n_init < 1, max_iter < 1, tol < 0), SUP_ERR_NOMEM. */
enum sup_status sup_kmeans(const float *x, int64_t n, int64_t d, const struct sup_kmeans_opts *opts,
			   int32_t *assign, float *centroids, struct sup_kmeans_result *out, char *err,
			   size_t err_size);

struct sup_cluster_result {
	double nmi, ari; /* over labelled rows */
	double inertia;
	int k;
	int64_t n_eval;
};

/* k-means on all rows of set (k = opts->k, or the number of classes when 0), then NMI and ARI of
 * the clusters against the labels of the labelled rows. assign: NULL or [set->n].
 * Errors: those of sup_kmeans, SUP_ERR_ARG (no labelled rows). */
enum sup_status sup_eval_cluster(const struct sup_eval_set *set, const struct sup_kmeans_opts *opts,
				 struct sup_cluster_result *out, int32_t *assign, char *err, size_t err_size);

/* ---- link prediction (linkpred.c) ----------------------------------------------------------- */

/* scores[m] = sigmoid(z_u . z_v) for pairs [m, 2] of node ids (u, v) into z [n_nodes, d]
 * (Kipf & Welling 2016, "Variational Graph Auto-Encoders", eq. 2 decoder), in f64.
 * Errors: SUP_ERR_ARG (a node id outside [0, n_nodes)). */
enum sup_status sup_eval_edge_scores(const float *z, int64_t n_nodes, int64_t d, const int64_t *pairs, int64_t m,
				     double *scores, char *err, size_t err_size);

struct sup_linkpred_result {
	double auc, ap;
	int64_t n_pos, n_neg;
};

/* Scores held-out edges pos [n_pos, 2] (class 1) and sampled non-edges neg [n_neg, 2] (class 0)
 * and reports ROC AUC and average precision. Errors: as above, SUP_ERR_ARG (n_pos or n_neg < 1),
 * SUP_ERR_NOMEM. */
enum sup_status sup_eval_linkpred(const float *z, int64_t n_nodes, int64_t d, const int64_t *pos, int64_t n_pos,
				  const int64_t *neg, int64_t n_neg, struct sup_linkpred_result *out, char *err,
				  size_t err_size);

/* ---- metrics (metrics.c) -------------------------------------------------------------------- */

/* Fraction of labelled rows (label != -1) whose label is among the k highest of scores [n, c]
 * (ranked by score, then lower class id; a label >= c never counts). n_counted: NULL or the
 * number of labelled rows. Errors: SUP_ERR_ARG (k < 1, c < 1, no labelled rows, a label < -1). */
enum sup_status sup_eval_topk_accuracy(const float *scores, int64_t n, int64_t c, const void *labels,
				       enum sup_dtype label_dtype, int k, double *acc, int64_t *n_counted,
				       char *err, size_t err_size);

/* Normalised mutual information with the arithmetic mean of the entropies (sklearn's default):
 * NMI = I(A; B) / ((H(A) + H(B)) / 2); 1 when both labellings have a single cluster (or n = 0),
 * 0 when I = 0 otherwise. Label values are arbitrary ids. Errors: SUP_ERR_NOMEM. */
enum sup_status sup_eval_nmi(const int64_t *a, const int64_t *b, int64_t n, double *out, char *err,
			     size_t err_size);

/* Adjusted Rand index (Hubert & Arabie 1985) from the pair confusion counts, as sklearn:
 * 2 (tp tn - fn fp) / ((tp + fn)(fn + tn) + (tp + fp)(fp + tn)); 1 when fn = fp = 0. */
enum sup_status sup_eval_ari(const int64_t *a, const int64_t *b, int64_t n, double *out, char *err,
			     size_t err_size);

/* ROC AUC = P(score of a random positive > that of a random negative) + P(tie) / 2 (the
 * Mann-Whitney statistic with average ranks). is_pos[n]: 1 positive, 0 negative.
 * Errors: SUP_ERR_ARG (no positive or no negative, a NaN score), SUP_ERR_NOMEM. */
enum sup_status sup_eval_auc(const double *scores, const uint8_t *is_pos, int64_t n, double *out, char *err,
			     size_t err_size);

/* Average precision as sklearn's average_precision_score: AP = sum_n (R_n - R_{n-1}) P_n over
 * the distinct score thresholds from high to low (tied scores enter together), R_0 = 0.
 * Errors: SUP_ERR_ARG (no positive, a NaN score), SUP_ERR_NOMEM. */
enum sup_status sup_eval_average_precision(const double *scores, const uint8_t *is_pos, int64_t n, double *out,
					   char *err, size_t err_size);

/* Unit conversions for likelihood-based evaluation; total_nats is a summed negative
 * log-likelihood in nats (natural log).
 *   bits = nats / ln 2
 *   bits per byte   = total_nats / (n_bytes ln 2)   (text: n_bytes of the UTF-8 text scored,
 *                     whatever the tokenizer, so models with different vocabularies compare)
 *   perplexity      = exp(total_nats / n_tokens)
 *   bits per dim    = total_nats / (n_dims ln 2)    (discrete data, e.g. 256-level pixels; n_dims
 *                     = images x C x H x W)
 *   bits per dim of a density p on data scaled so that one quantisation bin has width
 *   bin_width (1/256 for 8-bit pixels scaled to [0, 1]), with uniform dequantisation:
 *     P(bin) ~ p(x) bin_width, so discrete nats = total_nats - n_dims ln(bin_width). */
double sup_eval_nats_to_bits(double nats);
double sup_eval_bits_per_byte(double total_nats, double n_bytes);
double sup_eval_perplexity(double total_nats, double n_tokens);
double sup_eval_bits_per_dim(double total_nats, double n_dims);
double sup_eval_bits_per_dim_density(double total_nats, double n_dims, double bin_width);

/* ---- fine-tuning (finetune.c) ---------------------------------------------------------------
 * Supervised fine-tuning of a method's encoder with a linear head (the "fine-tune" columns of
 * SimCLR §4/appendix B.6 and BERT §4-5): logits = W h(x) + b with h the method's
 * forward_features (the representation encode probes, now with gradients and in training mode),
 * mean cross-entropy over labelled rows, encoder and head updated together. Inputs are the
 * splits as given: no augmentation. The train split loses a seeded val_fraction of its examples
 * to validation unless a val split is given; after every epoch the head and encoder are scored
 * on validation and the best epoch's parameters (ties: the earlier epoch) are the ones scored on
 * test, so the test split never influences a choice. */

/* A split the protocol draws batches from. get makes the batch of the split's examples
 * idx[0..n) (positions 0..n-1 of this split) in c's arena: views[0] what the method encodes,
 * labels i64 class ids (-1: unlabelled, ignored). Batches of other kinds hold exactly those n
 * examples; a SUP_BATCH_GRAPH batch holds the whole graph, with labels [N] for every node and
 * index i64 [n] naming the nodes of the n examples asked for: the protocol takes their rows of
 * the [N, D] representation (transductive node classification, as GCN and DGI evaluate). */
struct sup_finetune_split {
	enum sup_status (*get)(void *user, struct sup_ctx *c, const int64_t *idx, int64_t n,
			       struct sup_method_batch *b);
	void *user;
	int64_t n; /* examples */
};

enum sup_finetune_schedule {
	SUP_FT_SCHED_CONST,  /* lr throughout (after warm-up) */
	SUP_FT_SCHED_LINEAR, /* linear decay to 0 at the last step (BERT, Devlin et al. 2019, App. A.2) */
	SUP_FT_SCHED_COSINE, /* cosine decay to 0 at the last step (Loshchilov & Hutter 2017, no restarts) */
	SUP_FT_SCHED_COUNT
};

/* What one progress report says (after every optimizer step, and once more after each epoch's
 * validation with epoch_end set). */
struct sup_finetune_progress {
	int64_t epoch;	     /* 0-based */
	int64_t epochs;	     /* planned */
	int64_t step, total; /* optimizer steps done, planned */
	double loss;	     /* this step's loss; at epoch_end the epoch's mean */
	double lr;
	bool epoch_end;
	double val_top1; /* epoch_end with a validation split: this epoch's validation accuracy */
	bool best;	 /* epoch_end: this epoch is the best so far */
};

struct sup_finetune_opts {
	int n_classes;	      /* >= 2: the head's outputs; labels must be < n_classes */
	int64_t epochs;	      /* >= 1 */
	int64_t batch_size;   /* examples per step; 0: the whole (remaining) train split per step */
	int64_t max_steps;    /* 0: none; else the run (and its schedule) ends after this many steps */
	enum sup_optim_kind optim; /* SUP_OPTIM_ADAM, _ADAMW or _SGD (momentum, Nesterov) */
	double lr;	      /* peak learning rate, > 0 */
	double weight_decay;  /* >= 0; biases and norm parameters excluded (as AdamW in BERT) */
	double momentum;      /* SGD */
	double warmup;	      /* fraction of the planned steps with linear warm-up, in [0, 1) */
	enum sup_finetune_schedule schedule;
	double grad_clip;     /* > 0: clip the global gradient norm (encoder + head) to this; 0: off */
	double val_fraction;  /* hold-out of the train split when val is NULL, in [0, 1); 0: none, the last epoch is kept */
	int64_t patience;     /* > 0: stop after this many epochs without a better validation accuracy */
	int64_t eval_batch;   /* examples per batch when scoring; 0: the training batch */
	uint64_t seed;	      /* head initialisation, hold-out, data order, dropout */
	bool keep;	      /* leave the fine-tuned (best-epoch) parameters in the method; false: restore */
	/* Progress (may be NULL); called on the caller's thread. */
	void (*progress)(void *user, const struct sup_finetune_progress *p);
	void *progress_user;
};

/* Defaults for images and vectors (n_classes must still be set): those `selfsup eval finetune
 * --help` prints for them, whose sources src/cli/eval_finetune.c cites (tests/cli/test_cli.c
 * checks that the two agree); SGD momentum 0.9. The modality presets (text, graphs) are the
 * caller's (the same file). */
void sup_finetune_opts_default(struct sup_finetune_opts *o);

struct sup_finetune_result {
	double top1, top5; /* test accuracy over labelled test rows; top5 when has_top5 (n_classes > 5) */
	bool has_top5;
	double val_top1;       /* the chosen epoch's validation accuracy (-1 without validation) */
	int64_t best_epoch;    /* 1-based epoch whose parameters were scored on test */
	int64_t epochs_run;    /* epochs started (fewer than planned after early stopping or max_steps) */
	int64_t steps;	       /* optimizer steps done */
	double train_loss;     /* mean training loss of the last epoch run */
	double encoder_change; /* ||theta - theta_0|| / ||theta_0|| over the parameters of the method's parts,
				* theta_0 on entry, theta the chosen epoch's (0 when nothing moved) */
	int64_t n_train, n_val, n_test; /* examples of each split */
	int64_t dim;	       /* representation width D */
};

/* Fine-tunes the method (state as made by m->init, parameters restored by the caller) on train,
 * picks the epoch on val (NULL: a seeded val_fraction of train), scores test. The method's parts
 * (m->parts) are trained in place by optimizers of this function; its own optimizer state is not
 * touched. On return the parts hold the best epoch's parameters and buffers when opts->keep,
 * else exactly their values on entry (also on failure).
 * Errors: SUP_ERR_ARG (m has no forward_features: the message names the method; bad options,
 * a label outside [0, n_classes), an empty split, no labelled training rows), SUP_ERR_NOMEM, and
 * the status of a failing get or forward (its message). A non-finite training loss stops the
 * run with SUP_ERR_STATE naming the step (the learning rate is too high for the model). */
enum sup_status sup_eval_finetune(const struct sup_method *m, void *state, const struct sup_finetune_split *train,
				  const struct sup_finetune_split *val, const struct sup_finetune_split *test,
				  const struct sup_finetune_opts *opts, struct sup_finetune_result *out, char *err,
				  size_t err_size);

#ifdef __cplusplus
}
#endif
#endif
