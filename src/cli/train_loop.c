/* The generic training driver behind `selfsup train`: data source -> method -> run folder,
 * epochs of train_step, logs, checkpoints after every epoch and at the end, resume.
 *
 * Resume is bit-identical because everything the next step depends on is either in the
 * checkpoint (parameters, buffers, optimizer slots and step counts, the context RNG, the
 * position (epoch, step in epoch) and the epoch's running loss) or a pure function of the
 * config and that position: the data order of an epoch is a permutation drawn from
 * (seed, epoch) alone, the learning rate is the schedule at the global step. */
#define _POSIX_C_SOURCE 200809L

#include "cli/cli.h"
#include "selfsup/dist.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* mkdir -p; SUP_ERR_IO with a message on failure. */
static enum sup_status mkdir_p(const char *path, char *err, size_t err_size)
{
	char buf[1024];
	if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) {
		snprintf(err, err_size, "path too long: %s", path);
		return SUP_ERR_ARG;
	}
	for (char *p = buf + 1;; p++) {
		if (*p == '/' || !*p) {
			char save = *p;
			*p = 0;
			if (mkdir(buf, 0777) != 0 && errno != EEXIST) {
				snprintf(err, err_size, "cannot create folder %s: %s", buf, strerror(errno));
				return SUP_ERR_IO;
			}
			*p = save;
			if (!save)
				break;
		}
	}
	struct stat sb;
	if (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
		snprintf(err, err_size, "%s exists and is not a folder", path);
		return SUP_ERR_IO;
	}
	return SUP_OK;
}

/* out= when given, else runs/<method>-<data>-<YYYYmmdd-HHMMSS>[-k] (a new folder). */
static enum sup_status make_run_dir(char *dir, size_t size, const char *out, const char *method, const char *data,
				    char *err, size_t err_size)
{
	if (*out) {
		snprintf(dir, size, "%s", out);
		return mkdir_p(out, err, err_size);
	}
	enum sup_status s = mkdir_p("runs", err, err_size);
	if (s != SUP_OK)
		return s;
	/* The data part is the last path component, reduced to safe characters. */
	char name[64];
	size_t len = strlen(data);
	while (len > 1 && data[len - 1] == '/')
		len--;
	size_t start = len;
	while (start > 0 && data[start - 1] != '/')
		start--;
	size_t k = 0;
	for (size_t i = start; i < len && k + 1 < sizeof name; i++) {
		char ch = data[i];
		bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
			  ch == '-' || ch == '_' || ch == '.';
		name[k++] = ok ? ch : '_';
	}
	name[k] = 0;
	char stamp[32];
	time_t now = time(NULL);
	struct tm tm;
	localtime_r(&now, &tm);
	strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
	for (int attempt = 1; attempt < 1000; attempt++) {
		if (attempt == 1)
			snprintf(dir, size, "runs/%s-%s-%s", method, name, stamp);
		else
			snprintf(dir, size, "runs/%s-%s-%s-%d", method, name, stamp, attempt);
		if (mkdir(dir, 0777) == 0)
			return SUP_OK;
		if (errno != EEXIST) {
			snprintf(err, err_size, "cannot create run folder %s: %s", dir, strerror(errno));
			return SUP_ERR_IO;
		}
	}
	snprintf(err, err_size, "cannot find a free run folder name under runs/");
	return SUP_ERR_IO;
}

static void prefix_err(char *err, size_t err_size, const char *prefix)
{
	char tmp[1024];
	snprintf(tmp, sizeof tmp, "%s", err);
	snprintf(err, err_size, "%s: %s", prefix, tmp);
}

static enum sup_status write_text(const char *path, const char *text, char *err, size_t err_size)
{
	FILE *f = fopen(path, "w");
	if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
		snprintf(err, err_size, "cannot write %s: %s", path, strerror(errno));
		if (f)
			fclose(f);
		return SUP_ERR_IO;
	}
	return SUP_OK;
}

/* The run's fixed settings. */
struct run {
	const struct sup_method *m;
	struct sup_config *cfg;
	int64_t epochs, steps_limit, batch, log_every, spe, total;
	uint64_t seed;
	const char *data;
	struct sup_schedule sched;
	struct cli_source src;
	struct sup_ctx c;
	bool ctx_ready;
	void *state;
	struct sup_ckpt_part parts[SUP_MAX_PARTS];
	int n_parts;
	/* the process group (data parallelism, docs/dist.md): this process reads rows
	 * [rank * B/K, (rank + 1) * B/K) of every global batch of B; rank 0 writes every file */
	const struct sup_comm *comm;
	int rank, K;
	int64_t check_every; /* dist.check_every: steps between cross-process checksums (0: never) */
	/* Fault injection for the tests of the failure behaviour (tests/dist/mpi_faults.sh), from
	 * SELFSUP_TEST_FAULT=kill|hang:RANK:STEP: that process dies (SIGKILL) or stops answering
	 * (sleeps) when it reaches that step. fault_step < 0: none. */
	int fault_kind, fault_rank; /* 1 kill, 2 hang */
	int64_t fault_step;
	/* position */
	int64_t epoch, step, epoch_step;
	bool stop; /* the method asked to end training (early stopping) */
	double loss_sum, last_loss;
	char *yaml;
	/* training curves of this process: one point per step record */
	double *cx, *closs, *clr;
	int64_t n_curve, cap_curve;
};

/* Remembers a point of the training curves (dropped silently when out of memory: the curves
 * are a convenience, metrics.jsonl is the record). */
static void curve_add(struct run *r, double step, double loss, double lr)
{
	if (r->n_curve == r->cap_curve) {
		int64_t cap = r->cap_curve ? 2 * r->cap_curve : 256;
		double *x = realloc(r->cx, sizeof(double) * (size_t)cap);
		if (x)
			r->cx = x;
		double *l = realloc(r->closs, sizeof(double) * (size_t)cap);
		if (l)
			r->closs = l;
		double *q = realloc(r->clr, sizeof(double) * (size_t)cap);
		if (q)
			r->clr = q;
		if (!x || !l || !q)
			return;
		r->cap_curve = cap;
	}
	r->cx[r->n_curve] = step;
	r->closs[r->n_curve] = loss;
	r->clr[r->n_curve++] = lr;
}

static void write_curves(const struct run *r, const char *dir)
{
	char path[1200], title[200], err[300];
	snprintf(path, sizeof path, "%s/curves.svg", dir);
	snprintf(title, sizeof title, "%s on %s (seed %llu)", r->m->name, r->data, (unsigned long long)r->seed);
	struct sup_plot_series s[2] = {{"training loss vs step", r->cx, r->closs, r->n_curve},
				       {"learning rate vs step", r->cx, r->clr, r->n_curve}};
	if (r->n_curve > 0 && sup_plot_curves_svg(path, title, s, 2, err, sizeof err) != SUP_OK)
		fprintf(stderr, "selfsup train: warning: %s\n", err);
}

static int check_settings(struct run *r, char *err, size_t err_size)
{
	struct {
		const char *key;
		int64_t v, min;
	} lim[] = {
	    {"epochs", r->epochs, 0}, /* 0: the initialised model only (random-encoder baselines) */
	    {"batch_size", r->batch, 1},
	    {"steps", r->steps_limit, 0},
	    {"log_every", r->log_every, 1},
	    {"seeds", sup_config_int(r->cfg, "seeds"), 1},
	    {"threads", sup_config_int(r->cfg, "threads"), 0},
	    {"warmup_epochs", sup_config_int(r->cfg, "warmup_epochs"), 0},
	};
	for (size_t i = 0; i < sizeof lim / sizeof lim[0]; i++) {
		if (lim[i].v < lim[i].min) {
			snprintf(err, err_size, "config key '%s' must be >= %lld, got %lld", lim[i].key,
				 (long long)lim[i].min, (long long)lim[i].v);
			return CLI_USAGE;
		}
	}
	if (!(sup_config_float(r->cfg, "lr") >= 0)) {
		snprintf(err, err_size, "config key 'lr' must be >= 0, got %g", sup_config_float(r->cfg, "lr"));
		return CLI_USAGE;
	}
	return CLI_OK;
}

/* A group of K > 1 processes: the method must follow the data-parallel contract, the global
 * batch must split into K equal shards, and the method's options must suit K (check_processes).
 * batch_size is the global batch, so a config (and a checkpoint) means the same run on any
 * number of processes. Runs before any file is written (run_prepare). */
static int check_dist(struct run *r, char *err, size_t err_size)
{
	if (r->K <= 1)
		return CLI_OK;
	if (!r->m->data_parallel) {
		snprintf(err, err_size,
			 "method '%s' does not support data-parallel training (run it on one process; docs/dist.md lists "
			 "the methods that do)",
			 r->m->name);
		return CLI_USAGE;
	}
	if (r->src.kind == SUP_BATCH_GRAPH || r->batch % r->K) {
		snprintf(err, err_size, "batch_size %lld (the global batch) must be a multiple of the %d processes",
			 (long long)r->batch, r->K);
		return CLI_USAGE;
	}
	if (r->m->check_processes && r->m->check_processes(r->cfg, r->K, err, err_size) != SUP_OK)
		return CLI_USAGE;
	return CLI_OK;
}

/* Everything that can fail because of the user's input happens here, before any file is
 * written: settings, data, method init, checkpoint compatibility. */
static int run_prepare(struct run *r, const struct sup_safetensors *resume, const struct sup_ckpt_meta *rm, char *err,
		       size_t err_size)
{
	struct sup_config *cfg = r->cfg;
	r->epochs = sup_config_int(cfg, "epochs");
	r->steps_limit = sup_config_int(cfg, "steps");
	r->batch = sup_config_int(cfg, "batch_size");
	r->log_every = sup_config_int(cfg, "log_every");
	r->seed = (uint64_t)sup_config_int(cfg, "seed");
	r->data = sup_config_str(cfg, "data");
	int code = check_settings(r, err, err_size);
	if (code != CLI_OK)
		return code;
	enum sup_status s = cli_source_open(&r->src, r->data, true, err, err_size);
	if (s != SUP_OK)
		return s == SUP_ERR_NOMEM || s == SUP_ERR_IO ? CLI_FAIL : CLI_USAGE;
	r->src.info.name = r->data;
	if ((s = cli_source_configure(&r->src, cfg, err, err_size)) != SUP_OK)
		return s == SUP_ERR_NOMEM || s == SUP_ERR_IO ? CLI_FAIL : CLI_USAGE;
	if (!cli_source_fits(&r->src, r->m)) {
		char mods[64];
		snprintf(err, err_size, "method '%s' trains on %s (%s batches); data '%s' gives %s batches", r->m->name,
			 sup_modalities_str(mods, sizeof mods, r->m->modalities), sup_batch_kind_name(r->m->batch_kind),
			 r->data, sup_batch_kind_name(r->src.kind));
		return CLI_USAGE;
	}
	/* Methods that train on augmented views name their recipe in the config key `aug.recipe`. */
	if (sup_config_has(cfg, "aug.recipe") &&
	    (code = cli_source_augment_config(&r->src, cfg, r->m->n_views, err, err_size)) != CLI_OK)
		return code;
	r->spe = r->src.kind == SUP_BATCH_GRAPH ? 1 : r->src.n / r->batch;
	if (r->spe < 1) {
		snprintf(err, err_size, "batch_size %lld is larger than the %lld training examples of %s",
			 (long long)r->batch, (long long)r->src.n, r->data);
		return CLI_USAGE;
	}
	if ((code = check_dist(r, err, err_size)) != CLI_OK)
		return code;
	r->total = r->epochs * r->spe;
	/* Methods choose among const|cosine|step; step is MoCo v1's decay (§4.1): x0.1 at 60 % and
	 * 80 % of the steps (epochs 120 and 160 of 200). */
	const char *sched = sup_config_str(cfg, "schedule");
	r->sched = (struct sup_schedule){
	    .kind = !strcmp(sched, "cosine") ? SUP_SCHED_COSINE
		    : !strcmp(sched, "step") ? SUP_SCHED_MULTISTEP
					     : SUP_SCHED_CONST,
	    .base_lr = sup_config_float(cfg, "lr"),
	    .warmup = sup_config_int(cfg, "warmup_epochs") * r->spe,
	    .total_steps = r->total,
	    .gamma = 0.1,
	    .milestones = {r->total * 6 / 10, r->total * 8 / 10},
	    .n_milestones = 2,
	};
	sup_ctx_init(&r->c, sup_allocator_default(), r->seed);
	r->c.comm = r->K > 1 ? r->comm : NULL;
	r->ctx_ready = true;
	struct sup_rng init_rng = sup_rng_make(r->seed, 1);
	s = r->m->init(&r->state, cfg, &r->src.info, &init_rng, err, err_size);
	if (s != SUP_OK)
		return s == SUP_ERR_NOMEM ? CLI_FAIL : CLI_USAGE;
	r->n_parts = r->m->parts(r->state, r->parts, SUP_MAX_PARTS);
	if (!resume)
		return CLI_OK;
	if (rm->epoch_step >= r->spe) {
		snprintf(err, err_size,
			 "resume: the checkpoint is at step %lld of an epoch of %lld steps (batch_size changed?)",
			 (long long)rm->epoch_step, (long long)r->spe);
		return CLI_USAGE;
	}
	s = sup_checkpoint_restore(resume, r->parts, r->n_parts, true, err, err_size);
	if (s != SUP_OK) {
		prefix_err(err, err_size, "resume");
		return CLI_USAGE;
	}
	r->c.rng = rm->rng;
	r->epoch = rm->epoch;
	r->step = rm->step;
	r->epoch_step = rm->epoch_step;
	r->loss_sum = rm->epoch_loss_sum;
	return CLI_OK;
}

static enum sup_status save_checkpoint(struct run *r, const char *path, char *err, size_t err_size)
{
	struct sup_ckpt_meta meta = {
	    .method = r->m->name,
	    .config_yaml = r->yaml,
	    .data = r->data,
	    .epoch = r->epoch,
	    .step = r->step,
	    .epoch_step = r->epoch_step,
	    .epoch_loss_sum = r->loss_sum,
	    .rng = r->c.rng,
	};
	return sup_checkpoint_save(path, r->parts, r->n_parts, &meta, err, err_size);
}

/* CRC-32C of everything a checkpoint holds (parameters, buffers, optimizer slots and step count
 * of every part) and of the context RNG: equal on every process of a healthy data-parallel run. */
static uint32_t state_checksum(const struct run *r)
{
	uint32_t crc = 0;
	for (int i = 0; i < r->n_parts; i++) {
		const struct sup_model *m = r->parts[i].model;
		crc = sup_crc32c(crc, m->params, sizeof(float) * (size_t)m->n_params);
		crc = sup_crc32c(crc, m->buffers, sizeof(float) * (size_t)m->n_buffers);
		const struct sup_optim *o = r->parts[i].optim;
		if (o) {
			if (o->slot1)
				crc = sup_crc32c(crc, o->slot1, sizeof(float) * (size_t)m->n_params);
			if (o->slot2)
				crc = sup_crc32c(crc, o->slot2, sizeof(float) * (size_t)m->n_params);
			crc = sup_crc32c(crc, &o->steps, sizeof o->steps);
		}
	}
	return sup_crc32c(crc, &r->c.rng, sizeof r->c.rng);
}

/* dist.check_every: every process's state must be bit-identical to rank 0's. */
static int check_replicas(struct run *r, char *err, size_t err_size)
{
	if (r->K <= 1)
		return CLI_OK;
	uint32_t mine = state_checksum(r), *all = calloc((size_t)r->K, sizeof *all);
	if (!all) {
		snprintf(err, err_size, "out of memory");
		return CLI_FAIL;
	}
	int code = CLI_OK;
	if (sup_comm_allgather(r->comm, &mine, all, sizeof mine) != SUP_OK) {
		snprintf(err, err_size, "step %lld: the checksum allgather failed", (long long)r->step);
		code = CLI_FAIL;
	}
	for (int k = 1; code == CLI_OK && k < r->K; k++)
		if (all[k] != all[0]) {
			snprintf(err, err_size,
				 "dist.check_every: after step %lld the state of process %d (checksum %08x) differs from "
				 "process 0's (%08x); the method breaks the data-parallel contract",
				 (long long)r->step, k, all[k], all[0]);
			code = CLI_FAIL;
		}
	free(all);
	return code;
}

static void fault_parse(struct run *r)
{
	r->fault_step = -1;
	const char *f = getenv("SELFSUP_TEST_FAULT");
	char kind[8];
	int rank;
	long long step;
	if (!f || sscanf(f, "%7[a-z]:%d:%lld", kind, &rank, &step) != 3)
		return;
	r->fault_kind = strcmp(kind, "kill") == 0 ? 1 : strcmp(kind, "hang") == 0 ? 2 : 0;
	r->fault_rank = rank;
	r->fault_step = r->fault_kind ? step : -1;
}

static void fault_maybe(const struct run *r)
{
	if (r->fault_step != r->step || r->fault_rank != r->rank)
		return;
	fprintf(stderr, "selfsup train: SELFSUP_TEST_FAULT: process %d %s at step %lld\n", r->rank,
		r->fault_kind == 1 ? "dies" : "hangs", (long long)r->step);
	if (r->fault_kind == 1)
		raise(SIGKILL);
	struct timespec ts = {3600, 0};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* Data-parallel: the logged loss is the global batch's (the mean of the equal shards' losses);
 * early stopping is agreed so that every process leaves the loop at the same step; at log steps
 * (every process knows them) the named stats ride along in the same allreduce and become their
 * means over the processes, weighted where the method says so (struct sup_step_stats), so the
 * logged numbers are those of one process on the global batch. */
static enum sup_status reduce_stats(const struct run *r, struct sup_step_stats *st, bool log_step)
{
	double v[2 + 2 * SUP_MAX_STATS] = {st->loss, st->stop ? 1 : 0};
	const int n = log_step ? (st->n < SUP_MAX_STATS ? st->n : SUP_MAX_STATS) : 0;
	for (int i = 0; i < n; i++) {
		const double w = st->weighted >> i & 1u ? st->weights[i] : 1.0;
		v[2 + 2 * i] = w * st->values[i];
		v[3 + 2 * i] = w;
	}
	enum sup_status s = sup_comm_allreduce_f64(r->comm, v, 2 + 2 * n);
	if (s != SUP_OK)
		return s;
	st->loss = v[0] / r->K;
	st->stop = v[1] > 0;
	for (int i = 0; i < n; i++)
		st->values[i] = v[3 + 2 * i] > 0 ? v[2 + 2 * i] / v[3 + 2 * i] : 0;
	return SUP_OK;
}

/* One optimizer step at the current position; fills the stats. */
static int run_step(struct run *r, const int64_t *perm, struct sup_runlog *lg, double t0, char *err, size_t err_size)
{
	struct sup_method_batch b;
	struct sup_step_stats st = {0};
	struct sup_step_info si = {r->epoch, r->step, r->total, sup_schedule_lr(&r->sched, r->step)};
	fault_maybe(r);
	/* This process's shard of the global batch; augmentations are drawn per data-set index, so
	 * the views do not depend on how the batch is split. */
	int64_t n = r->src.kind == SUP_BATCH_GRAPH ? r->src.n : r->batch / r->K;
	const int64_t *idx = perm + r->epoch_step * r->batch + (int64_t)r->rank * n;
	enum sup_status s = r->src.get(&r->src, &r->c, idx, n, r->m->n_views, r->seed, r->epoch, &b);
	if (s == SUP_OK)
		s = r->m->train_step(r->state, &r->c, &b, &si, &st);
	if (s != SUP_OK) {
		snprintf(err, err_size, "step %lld: %s", (long long)r->step,
			 sup_ctx_error(&r->c)[0] ? sup_ctx_error(&r->c) : sup_status_str(s));
		return CLI_FAIL;
	}
	sup_ctx_reset(&r->c);
	if (r->K > 1 && reduce_stats(r, &st, (r->step + 1) % r->log_every == 0) != SUP_OK) {
		snprintf(err, err_size, "step %lld: the loss allreduce failed", (long long)r->step);
		return CLI_FAIL;
	}
	if (!isfinite(st.loss)) {
		snprintf(err, err_size, "the loss is %g at step %lld (epoch %lld); try a lower lr", st.loss,
			 (long long)r->step, (long long)r->epoch + 1);
		return CLI_FAIL;
	}
	r->step++;
	r->epoch_step++;
	r->stop = r->stop || st.stop;
	if (r->check_every > 0 && r->step % r->check_every == 0 && check_replicas(r, err, err_size) != CLI_OK)
		return CLI_FAIL;
	r->loss_sum += st.loss;
	r->last_loss = st.loss;
	if (lg && r->step % r->log_every == 0) {
		struct sup_metric m[2 + SUP_MAX_STATS] = {{"loss", st.loss}, {"lr", si.lr}};
		int k = 2;
		for (int i = 0; i < st.n && i < SUP_MAX_STATS; i++)
			m[k++] = (struct sup_metric){st.names[i], st.values[i]};
		sup_runlog_write(lg, "step", r->epoch + 1, r->step, cli_now() - t0, m, k);
		curve_add(r, (double)r->step, st.loss, si.lr);
	}
	return CLI_OK;
}

/* The epochs from the current position until the end or the step limit. */
static int run_loop(struct run *r, struct sup_runlog *lg, const char *ckpt, char *err, size_t err_size)
{
	int64_t *perm = malloc(sizeof(int64_t) * (size_t)r->src.n);
	if (!perm) {
		snprintf(err, err_size, "out of memory");
		return CLI_FAIL;
	}
	struct cli_progress pg;
	cli_progress_init(&pg, r->step, r->steps_limit && r->steps_limit < r->total ? r->steps_limit : r->total,
			  r->log_every);
	pg.quiet = pg.quiet || r->rank != 0; /* one progress report per job */
	double t0 = cli_now();
	int code = CLI_OK;
	bool saved = false;
	while (code == CLI_OK && !r->stop && r->epoch < r->epochs && !(r->steps_limit && r->step >= r->steps_limit)) {
		/* The epoch's order depends on (seed, epoch) only: a resumed run draws the same one. */
		struct sup_rng pr = sup_rng_make(r->seed, ((uint64_t)1 << 32) | (uint64_t)r->epoch);
		sup_rng_permutation(&pr, perm, r->src.n);
		saved = false;
		while (!r->stop && r->epoch_step < r->spe && !(r->steps_limit && r->step >= r->steps_limit)) {
			if ((code = run_step(r, perm, lg, t0, err, err_size)) != CLI_OK)
				break;
			cli_progress_update(&pg, r->epoch, r->epochs, r->step, r->last_loss);
		}
		if (code != CLI_OK || r->epoch_step < r->spe)
			break;
		if (r->m->on_epoch_end && r->m->on_epoch_end(r->state, &r->c, r->epoch) != SUP_OK) {
			snprintf(err, err_size, "end of epoch %lld: %s", (long long)r->epoch + 1, sup_ctx_error(&r->c));
			code = CLI_FAIL;
			break;
		}
		sup_ctx_reset(&r->c);
		struct sup_metric m[] = {{"loss", r->loss_sum / (double)r->spe},
					 {"lr", sup_schedule_lr(&r->sched, r->step > 0 ? r->step - 1 : 0)}};
		if (lg)
			sup_runlog_write(lg, "epoch", r->epoch + 1, r->step, cli_now() - t0, m, 2);
		r->last_loss = m[0].value;
		r->epoch++;
		r->epoch_step = 0;
		r->loss_sum = 0;
		if (ckpt && save_checkpoint(r, ckpt, err, err_size) != SUP_OK) {
			code = CLI_FAIL;
			break;
		}
		saved = true;
	}
	cli_progress_done(&pg);
	if (code == CLI_OK && r->epoch_step > 0)
		r->last_loss = r->loss_sum / (double)r->epoch_step; /* stopped inside an epoch */
	if (code == CLI_OK && !saved && ckpt && save_checkpoint(r, ckpt, err, err_size) != SUP_OK)
		code = CLI_FAIL;
	free(perm);
	return code;
}

int cli_train_run(const struct sup_method *m, struct sup_config *cfg, const struct sup_safetensors *resume,
		  const struct sup_ckpt_meta *resume_meta, const struct sup_comm *comm, struct cli_train_result *out,
		  char *err, size_t err_size)
{
	struct run r = {.m = m, .cfg = cfg, .last_loss = NAN, .comm = comm, .rank = sup_comm_rank(comm),
			.K = sup_comm_size(comm), .check_every = sup_config_int(cfg, "dist.check_every")};
	fault_parse(&r);
	double t0 = cli_now();
	struct sup_runlog *lg = NULL;
	int code = run_prepare(&r, resume, resume_meta, err, err_size);
	if (code != CLI_OK)
		goto cleanup;
	code = CLI_FAIL;
	if (r.rank == 0)
		fprintf(stderr, "selfsup train: %s on %s, seed %llu, %lld epochs of %lld steps%s%s\n", m->name, r.data,
			(unsigned long long)r.seed, (long long)r.epochs, (long long)r.spe, resume ? " (resumed)" : "",
			r.K > 1 ? " on several processes" : "");
	if (r.K > 1 && r.rank == 0)
		fprintf(stderr, "selfsup train: %d processes x %lld examples per step\n", r.K, (long long)(r.batch / r.K));
	if (r.rank != 0) {
		/* Rank 0 writes the run folder; the others train their shard and write nothing. */
		out->run_dir[0] = out->checkpoint[0] = 0;
		code = run_loop(&r, NULL, NULL, err, err_size);
		out->final_loss = r.last_loss;
		out->epochs = r.epoch;
		out->steps = r.step;
		out->seconds = cli_now() - t0;
		goto cleanup;
	}
	r.yaml = sup_config_to_yaml(cfg);
	if (!r.yaml) {
		snprintf(err, err_size, "out of memory");
		goto cleanup;
	}
	if (make_run_dir(out->run_dir, sizeof out->run_dir, sup_config_str(cfg, "out"), m->name, r.data, err,
			 err_size) != SUP_OK)
		goto cleanup;
	char path[1200];
	snprintf(path, sizeof path, "%s/config.yaml", out->run_dir);
	if (write_text(path, r.yaml, err, err_size) != SUP_OK)
		goto cleanup;
	if (sup_runlog_open(&lg, out->run_dir, err, err_size) != SUP_OK)
		goto cleanup;
	snprintf(out->checkpoint, sizeof out->checkpoint, "%s/checkpoint.safetensors", out->run_dir);
	code = run_loop(&r, lg, out->checkpoint, err, err_size);
	out->final_loss = r.last_loss;
	out->epochs = r.epoch;
	out->steps = r.step;
	out->seconds = cli_now() - t0;
	write_curves(&r, out->run_dir);
	if (code == CLI_OK) /* after the checkpoint, which a failure here leaves intact */
		code = cli_train_write_grids(m, r.state, &r.src, r.data, out->run_dir, err, err_size);
cleanup:
	if (lg) {
		char lerr[300];
		if (sup_runlog_close(lg, lerr, sizeof lerr) != SUP_OK && code == CLI_OK) {
			snprintf(err, err_size, "%s", lerr);
			code = CLI_FAIL;
		}
	}
	if (r.state)
		m->free(r.state);
	if (r.src.get)
		cli_source_close(&r.src);
	if (r.ctx_ready)
		sup_ctx_deinit(&r.c);
	free(r.yaml);
	free(r.cx);
	free(r.closs);
	free(r.clr);
	return code;
}
