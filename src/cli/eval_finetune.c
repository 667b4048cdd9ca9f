/* The finetune protocol of `selfsup eval` and `train ... eval=` (eval_run.c calls it): its
 * options (the finetune.* keys, with defaults per modality), the splits as adapters over the
 * program's data sources, and progress on stderr. The protocol itself is sup_eval_finetune
 * (src/eval/finetune.c, docs/eval.md).
 *
 * Options are a typed config (run.h) rather than ad-hoc parsing so that a mistyped key or value
 * is an error naming it and the closest valid key, as for training configs. Defaults differ by
 * modality because the literature's recipes do (a short Adam run for small convnets, BERT's for
 * Transformers, GCN's for graphs); the image set is the base schema and the text and graph sets
 * redefine some keys, the way a method redefines common keys. These tables are the one source of
 * the defaults: every default cites where it comes from, `selfsup eval finetune --help` prints
 * them and docs/eval.md points there; sup_finetune_opts_default's image set is checked against
 * them (tests/cli/test_cli.c). */
#include "cli/cli.h"
#include "selfsup/data.h"
#include "selfsup/eval.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define FT_OPTIM_CHOICES "adam|adamw|sgd"
#define FT_SCHED_CHOICES "const|linear|cosine"

/* Images and vectors. SimCLR (Chen et al. 2020) appendix B.6 fine-tunes with Nesterov SGD, no
 * warm-up and no regularisation for 30-60 epochs of ImageNet; for a small convnet and a budget of
 * minutes, Adam at its default rate converges in a few epochs (finetune.optim=sgd lr=0.05 gives
 * B.6's rule 0.05 x B/256). */
static const struct sup_cfg_key ft_keys[] = {
    {"finetune.epochs", SUP_CFG_INT, "3", NULL, "passes over the train split (minus the validation hold-out)",
     "a few epochs, sized for minutes on 2 cores (SimCLR App. B.6: 30-60 on ImageNet)", 0},
    {"finetune.batch_size", SUP_CFG_INT, "256", NULL, "examples per step; 0: the whole train split (full batch)",
     "W1's batch (SimCLR App. B.6: 4096)", 0},
    {"finetune.lr", SUP_CFG_FLOAT, "0.001", NULL, "peak learning rate of encoder and head",
     "Adam's default (Kingma & Ba 2015); 1e-3..1e-4 is the usual range for small convnets", 0},
    {"finetune.optim", SUP_CFG_ENUM, "adam", FT_OPTIM_CHOICES, "optimizer (sgd: Nesterov momentum 0.9)",
     "Adam for short runs (SimCLR App. B.6: Nesterov SGD, lr 0.05 x B/256)", 0},
    {"finetune.weight_decay", SUP_CFG_FLOAT, "0", NULL, "weight decay (biases and norm parameters excluded)",
     "SimCLR App. B.6: no regularisation", 0},
    {"finetune.schedule", SUP_CFG_ENUM, "cosine", FT_SCHED_CHOICES, "learning-rate decay over the planned steps",
     "cosine decay without restarts (Loshchilov & Hutter 2017), as SimCLR's pretraining", 0},
    {"finetune.warmup", SUP_CFG_FLOAT, "0", NULL, "fraction of the steps with linear warm-up",
     "SimCLR App. B.6: no warm-up", 0},
    {"finetune.grad_clip", SUP_CFG_FLOAT, "0", NULL, "clip the global gradient norm to this (0: off)", NULL, 0},
    {"finetune.val_fraction", SUP_CFG_FLOAT, "0.1", NULL,
     "hold-out of the train split that chooses the epoch (the test split is never used for choices)",
     "as the linear probe (docs/eval.md)", 0},
    {"finetune.patience", SUP_CFG_INT, "0", NULL,
     "stop after this many epochs without a better validation accuracy (0: run all epochs)", NULL, 0},
    {"finetune.max_steps", SUP_CFG_INT, "0", NULL,
     "cap on optimizer steps (0: none); the schedule spans the capped run", NULL, 0},
    {"finetune.seed", SUP_CFG_INT, "0", NULL, "head initialisation, hold-out, data order, dropout", NULL, 0},
    {NULL, 0, NULL, NULL, NULL, NULL, 0},
};

/* Text encoders: BERT's fine-tuning recipe (Devlin et al. 2019, §4 and App. A.3: AdamW, batch
 * 32, 2-4 epochs, lr 5e-5..2e-5 with 10% linear warm-up then linear decay, weight decay 0.01,
 * gradients clipped at 1 in the released code); small models take the top of the range (Turc et
 * al. 2019, "Well-Read Students Learn Better", search lr up to 1e-4 for BERT-mini/tiny). */
static const struct sup_cfg_key ft_text_keys[] = {
    {"finetune.epochs", SUP_CFG_INT, "4", NULL, "passes over the train split (minus the validation hold-out)",
     "BERT App. A.3 (2-4 epochs); Turc et al. 2019 (4)", 0},
    {"finetune.batch_size", SUP_CFG_INT, "32", NULL, "examples per step; 0: the whole train split (full batch)",
     "BERT App. A.3 (16 or 32)", 0},
    {"finetune.lr", SUP_CFG_FLOAT, "0.0001", NULL, "peak learning rate of encoder and head",
     "Turc et al. 2019 (small BERTs: up to 1e-4); BERT App. A.3: 5e-5..2e-5 for BERT-base", 0},
    {"finetune.optim", SUP_CFG_ENUM, "adamw", FT_OPTIM_CHOICES, "optimizer (sgd: Nesterov momentum 0.9)",
     "BERT §4 / App. A.2 (Adam with decoupled weight decay)", 0},
    {"finetune.weight_decay", SUP_CFG_FLOAT, "0.01", NULL, "weight decay (biases and norm parameters excluded)",
     "BERT App. A.2", 0},
    {"finetune.schedule", SUP_CFG_ENUM, "linear", FT_SCHED_CHOICES, "learning-rate decay over the planned steps",
     "BERT App. A.2 (linear decay)", 0},
    {"finetune.warmup", SUP_CFG_FLOAT, "0.1", NULL, "fraction of the steps with linear warm-up",
     "BERT fine-tuning code (10% warm-up)", 0},
    {"finetune.grad_clip", SUP_CFG_FLOAT, "1", NULL, "clip the global gradient norm to this (0: off)",
     "BERT's released code (clip_by_global_norm 1.0)", 0},
    {NULL, 0, NULL, NULL, NULL, NULL, 0},
};

/* Graphs (node classification, transductive): GCN's supervised recipe (Kipf & Welling 2017, §5.2:
 * Adam lr 0.01, L2 5e-4, 200 epochs of full-batch training, early stopping with a window of 10
 * epochs on the validation loss; here the validation accuracy, which is coarser, so 20). */
static const struct sup_cfg_key ft_graph_keys[] = {
    {"finetune.epochs", SUP_CFG_INT, "200", NULL, "full-batch steps over the train nodes",
     "Kipf & Welling 2017 §5.2", 0},
    {"finetune.batch_size", SUP_CFG_INT, "0", NULL, "train nodes per step; 0: all of them (full batch)",
     "Kipf & Welling 2017 §5.2", 0},
    {"finetune.lr", SUP_CFG_FLOAT, "0.01", NULL, "peak learning rate of encoder and head", "Kipf & Welling 2017 §5.2",
     0},
    {"finetune.weight_decay", SUP_CFG_FLOAT, "0.0005", NULL, "weight decay (biases and norm parameters excluded)",
     "Kipf & Welling 2017 §5.2 (L2 5e-4)", 0},
    {"finetune.schedule", SUP_CFG_ENUM, "const", FT_SCHED_CHOICES, "learning-rate decay over the planned steps",
     "Kipf & Welling 2017 (constant)", 0},
    {"finetune.patience", SUP_CFG_INT, "20", NULL,
     "stop after this many epochs without a better validation accuracy (0: run all epochs)",
     "Kipf & Welling 2017 §5.2 (10, on the validation loss; accuracy is coarser)", 0},
    {NULL, 0, NULL, NULL, NULL, NULL, 0},
};

bool cli_eval_is_option(const char *kv)
{
	return strncmp(kv, "finetune.", 9) == 0 && strchr(kv, '=');
}

/* Range checks naming the key (the config has already checked types and names). */
static int check_ranges(const struct sup_config *c, char *err, size_t es)
{
	static const struct {
		const char *key;
		double lo, hi; /* lo <= v < hi, or lo < v when lo_open */
		bool lo_open;
	} r[] = {
	    {"finetune.epochs", 1, 1e9, false},	      {"finetune.batch_size", 0, 1e12, false},
	    {"finetune.lr", 0, 1e3, true},	      {"finetune.weight_decay", 0, 1e3, false},
	    {"finetune.warmup", 0, 1, false},	      {"finetune.grad_clip", 0, 1e9, false},
	    {"finetune.val_fraction", 0, 1, false},   {"finetune.patience", 0, 1e9, false},
	    {"finetune.max_steps", 0, 1e15, false},   {"finetune.seed", 0, 9e18, false},
	};
	for (size_t i = 0; i < sizeof r / sizeof r[0]; i++) {
		/* Every key of r[] is in the schema (ft_keys); the bound keeps a future mismatch from
		 * reading past it. */
		int k = 0;
		const int nk = sup_config_n_keys(c);
		while (k < nk && strcmp(sup_config_key_at(c, k)->key, r[i].key) != 0)
			k++;
		if (k == nk)
			continue;
		bool is_int = sup_config_key_at(c, k)->type == SUP_CFG_INT;
		double v = is_int ? (double)sup_config_int(c, r[i].key) : sup_config_float(c, r[i].key);
		if ((r[i].lo_open ? v > r[i].lo : v >= r[i].lo) && v < r[i].hi)
			continue;
		snprintf(err, es, "eval option '%s' must be %s %g and below %g, got %s", r[i].key,
			 r[i].lo_open ? ">" : ">=", r[i].lo, r[i].hi, sup_config_value_text(c, k));
		return CLI_USAGE;
	}
	return CLI_OK;
}

/* The finetune options for a modality: the base keys, the modality's redefinitions, then kv. */
static int ft_config(struct sup_config **out, unsigned modality, char **kv, int n_kv, char *err, size_t es)
{
	const struct sup_cfg_key *schemas[2] = {ft_keys, NULL};
	schemas[1] = modality == SUP_MODALITY_TEXT ? ft_text_keys : modality == SUP_MODALITY_GRAPH ? ft_graph_keys : NULL;
	struct sup_config *c = NULL;
	if (sup_config_new(&c, schemas, schemas[1] ? 2 : 1, err, es) != SUP_OK)
		return CLI_FAIL; /* a broken built-in schema */
	int code = CLI_OK;
	for (int i = 0; code == CLI_OK && i < n_kv; i++) {
		/* The config's messages say "config key"; here the keys are evaluation options. */
		char msg[512];
		enum sup_status s = sup_config_override(c, kv[i], msg, sizeof msg);
		if (s == SUP_OK)
			continue;
		const char *p = strstr(msg, "config key ");
		if (p)
			snprintf(err, es, "%.*seval option %s", (int)(p - msg), msg, p + 11);
		else
			snprintf(err, es, "eval option %s: %s", kv[i], msg);
		code = s == SUP_ERR_NOMEM ? CLI_FAIL : CLI_USAGE;
	}
	if (code == CLI_OK)
		code = check_ranges(c, err, es);
	if (code != CLI_OK)
		sup_config_free(c);
	else
		*out = c;
	return code;
}

int cli_finetune_check_options(char **kv, int n_kv, char *err, size_t es)
{
	struct sup_config *c = NULL;
	int code = ft_config(&c, SUP_MODALITY_IMAGE, kv, n_kv, err, es);
	sup_config_free(c);
	return code;
}

void cli_eval_options_help(FILE *f)
{
	static const struct {
		const char *name;
		const struct sup_cfg_key *keys;
	} sets[] = {{"images, vectors", ft_keys}, {"text (redefined)", ft_text_keys}, {"graphs (redefined)", ft_graph_keys}};
	for (size_t s = 0; s < sizeof sets / sizeof sets[0]; s++) {
		fprintf(f, "finetune options, %s:\n", sets[s].name);
		for (const struct sup_cfg_key *k = sets[s].keys; k->key; k++)
			fprintf(f, "  %s=%s%s%s%s\n      %s%s%s%s\n", k->key, k->def, k->choices ? "  (one of " : "",
				k->choices ? k->choices : "", k->choices ? ")" : "", k->help, k->cite ? " [" : "",
				k->cite ? k->cite : "", k->cite ? "]" : "");
	}
}

/* ---- splits over the program's sources -------------------------------------------------------- */

/* Position i of a split is example rows[i] of src (rows NULL: example i). A graph source makes
 * whole-graph batches: the batch's index then names the nodes asked for (eval.h). */
struct ft_split {
	const struct cli_source *src;
	const int64_t *rows;
	int64_t *all; /* graphs: 0..N-1, the indices of a whole-graph batch */
	bool graph;
};

static enum sup_status ft_get(void *user, struct sup_ctx *c, const int64_t *idx, int64_t n, struct sup_method_batch *b)
{
	const struct ft_split *s = user;
	int64_t *ex = sup_ctx_alloc(c, sizeof(int64_t) * (size_t)(n ? n : 1));
	if (!ex)
		return sup_ctx_status(c);
	for (int64_t i = 0; i < n; i++)
		ex[i] = s->rows ? s->rows[idx[i]] : idx[i];
	if (!s->graph)
		return s->src->get(s->src, c, ex, n, 1, 0, 0, b);
	enum sup_status st = s->src->get(s->src, c, s->all, s->src->n, 1, 0, 0, b);
	if (st == SUP_OK)
		b->index = sup_tensor_wrap(c, SUP_I64, 1, (const int64_t[]){n}, ex);
	return st == SUP_OK ? sup_ctx_status(c) : st;
}

/* The nodes of a mask (malloc'd; *n = 0 and a 1-element array when the mask is absent). */
static int64_t *mask_nodes(const uint8_t *mask, int64_t N, int64_t *n)
{
	int64_t *r = malloc(sizeof(int64_t) * (size_t)(N + 1));
	*n = 0;
	for (int64_t i = 0; r && mask && i < N; i++)
		if (mask[i])
			r[(*n)++] = i;
	return r;
}

/* ---- progress ------------------------------------------------------------------------------- */

struct ft_progress {
	struct cli_progress bar;
	bool started;
};

static void ft_report(void *user, const struct sup_finetune_progress *p)
{
	struct ft_progress *pg = user;
	if (!pg->started) {
		cli_progress_init(&pg->bar, 0, p->total, 50);
		pg->started = true;
	}
	if (!p->epoch_end) {
		cli_progress_update(&pg->bar, p->epoch, p->epochs, p->step, p->loss);
		return;
	}
	fprintf(stderr, "%s  finetune epoch %lld/%lld: train loss %.4f", pg->bar.tty ? "\r\033[K" : "",
		(long long)p->epoch + 1, (long long)p->epochs, p->loss);
	if (p->val_top1 >= 0)
		fprintf(stderr, ", val acc %.4f%s", p->val_top1, p->best ? " (best)" : "");
	fprintf(stderr, "\n");
}

/* ---- the protocol --------------------------------------------------------------------------- */

static void ft_opts(struct sup_finetune_opts *o, const struct sup_config *c, int n_classes)
{
	static const enum sup_optim_kind optims[] = {SUP_OPTIM_ADAM, SUP_OPTIM_ADAMW, SUP_OPTIM_SGD};
	static const enum sup_finetune_schedule scheds[] = {SUP_FT_SCHED_CONST, SUP_FT_SCHED_LINEAR, SUP_FT_SCHED_COSINE};
	sup_finetune_opts_default(o); /* and its SGD momentum (SimCLR App. B.6) */
	o->n_classes = n_classes;
	o->epochs = sup_config_int(c, "finetune.epochs");
	o->batch_size = sup_config_int(c, "finetune.batch_size");
	o->max_steps = sup_config_int(c, "finetune.max_steps");
	o->optim = optims[sup_config_enum(c, "finetune.optim")];
	o->lr = sup_config_float(c, "finetune.lr");
	o->weight_decay = sup_config_float(c, "finetune.weight_decay");
	o->warmup = sup_config_float(c, "finetune.warmup");
	o->schedule = scheds[sup_config_enum(c, "finetune.schedule")];
	o->grad_clip = sup_config_float(c, "finetune.grad_clip");
	o->val_fraction = sup_config_float(c, "finetune.val_fraction");
	o->patience = sup_config_int(c, "finetune.patience");
	o->seed = (uint64_t)sup_config_int(c, "finetune.seed");
}

/* Graphs: train, val, test are the nodes of the masks of the one graph; no val mask means a
 * hold-out of the train nodes. */
static enum sup_status ft_graph(struct cli_loaded *l, const struct cli_source *src, const struct sup_finetune_opts *o,
				struct sup_finetune_result *r, char *err, size_t es)
{
	const struct sup_graph *g = cli_graph_source_graph(src);
	const int64_t N = src->n;
	int64_t n[3];
	int64_t *rows[3] = {mask_nodes(g->train_mask, N, &n[0]), mask_nodes(g->val_mask, N, &n[1]),
			    mask_nodes(g->test_mask, N, &n[2])};
	int64_t *all = malloc(sizeof(int64_t) * (size_t)(N + 1));
	enum sup_status s = rows[0] && rows[1] && rows[2] && all ? SUP_OK : SUP_ERR_NOMEM;
	for (int64_t i = 0; all && i < N; i++)
		all[i] = i;
	struct ft_split sp[3];
	struct sup_finetune_split split[3];
	for (int k = 0; k < 3; k++) {
		sp[k] = (struct ft_split){src, rows[k], all, true};
		split[k] = (struct sup_finetune_split){ft_get, &sp[k], n[k]};
	}
	if (s == SUP_OK && (n[0] == 0 || n[2] == 0))
		s = sup_errf(err, es, SUP_ERR_ARG, "data set %s has no train/test node masks (train_mask.npy, test_mask.npy)",
			     src->info.name);
	if (s == SUP_OK)
		s = sup_eval_finetune(l->method, l->state, &split[0], n[1] ? &split[1] : NULL, &split[2], o, r, err, es);
	else if (s == SUP_ERR_NOMEM)
		sup_errf(err, es, s, "out of memory");
	for (int k = 0; k < 3; k++)
		free(rows[k]);
	free(all);
	return s;
}

int cli_eval_finetune(struct cli_loaded *l, const struct cli_source *train, const struct cli_source *test, char **kv,
		      int n_kv, struct sup_finetune_result *r, char *err, size_t es)
{
	if (!l->method) {
		snprintf(err, es, "finetune trains an encoder; the raw-input baseline has none (use random method=NAME)");
		return CLI_USAGE;
	}
	if (train->info.n_classes < 2) {
		snprintf(err, es, "finetune needs a labelled data set with >= 2 classes; %s has %d", train->info.name,
			 train->info.n_classes);
		return CLI_USAGE;
	}
	struct sup_config *c = NULL;
	int code = ft_config(&c, train->info.modality, kv, n_kv, err, es);
	if (code != CLI_OK)
		return code;
	struct sup_finetune_opts o;
	ft_opts(&o, c, train->info.n_classes);
	sup_config_free(c);
	struct ft_progress pg = {.started = false};
	o.progress = ft_report;
	o.progress_user = &pg;
	enum sup_status s;
	if (train->kind == SUP_BATCH_GRAPH) {
		s = ft_graph(l, train, &o, r, err, es);
	} else {
		struct ft_split sp[2] = {{train, NULL, NULL, false}, {test, NULL, NULL, false}};
		struct sup_finetune_split tr = {ft_get, &sp[0], train->n}, te = {ft_get, &sp[1], test->n};
		s = sup_eval_finetune(l->method, l->state, &tr, NULL, &te, &o, r, err, es);
	}
	if (pg.started)
		cli_progress_done(&pg.bar);
	/* Bad options or a method without a trainable representation are the user's to fix (2); a
	 * diverging run, I/O and memory failures are failures while running (1). */
	return s == SUP_OK ? CLI_OK : s == SUP_ERR_ARG ? CLI_USAGE : CLI_FAIL;
}
