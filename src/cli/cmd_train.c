/* `selfsup train METHOD [CONFIG.yaml] [key=value ...] [--json]`: resolves the config, checks
 * every input, then runs cli_train_run once per seed and prints the summary (the last stdout
 * line is one JSON object with --json; summary.json in the run folder holds the same). */
#define _POSIX_C_SOURCE 200809L

#include "cli/cli.h"
#include "selfsup/dist.h"

#include <errno.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void print_method_keys(const struct sup_method *m)
{
	struct sup_config *c = NULL;
	char err[256];
	if (cli_config_build(&c, m, NULL, NULL, NULL, 0, err, sizeof err) != CLI_OK) {
		printf("  (schema error: %s)\n", err);
		return;
	}
	printf("\nkeys of %s (defaults; common keys first):\n", m->name);
	for (int i = 0; i < sup_config_n_keys(c); i++) {
		const struct sup_cfg_key *k = sup_config_key_at(c, i);
		printf("  %s=%s", k->key, sup_config_value_text(c, i));
		if (k->choices)
			printf("  (one of %s)", k->choices);
		printf("\n      %s", k->help ? k->help : "");
		if (k->cite)
			printf(" [%s]", k->cite);
		printf("\n");
	}
	sup_config_free(c);
}

static int help(const char *method)
{
	printf("usage: selfsup train METHOD [CONFIG.yaml] [key=value ...] [--json] [--print-config]\n"
	       "Trains METHOD (see `selfsup list`) and writes a run folder: config.yaml, metrics.jsonl,\n"
	       "TensorBoard events, checkpoint.safetensors, summary.json (generative image methods also\n"
	       "samples.png, reconstructions.png). Keys come from the method's defaults, then CONFIG.yaml,\n"
	       "then key=value (nested keys with dots: optim.momentum=0.9).\n"
	       "Common keys: data= epochs= steps= batch_size= lr= schedule= warmup_epochs= seed= threads=\n"
	       "out= eval= seeds= resume=CHECKPOINT|RUN_FOLDER log_every=\n"
	       "finetune.KEY=VALUE: options of eval=finetune (`selfsup eval --help` lists them).\n"
	       "--print-config: print the resolved config (YAML, with citations) and stop.\n"
	       "--json: the last line of stdout is a JSON summary. `selfsup train METHOD --help` lists the\n"
	       "method's keys.\n");
	const struct sup_method *m = method ? sup_method_find(method) : NULL;
	if (m)
		print_method_keys(m);
	return CLI_OK;
}

struct train_args {
	const struct sup_method *m;
	const char *yaml;
	char **kv;
	int n_kv;
	char **eval_opts; /* finetune.KEY=VALUE: options of the eval= protocols, not config keys */
	int n_eval_opts;
	bool json;
	bool print_config; /* --print-config: print the resolved config as YAML and stop */
};

static int parse_args(struct train_args *a, int argc, char **argv)
{
	memset(a, 0, sizeof *a);
	if (argc < 1 || argv[0][0] == '-')
		return cli_fail(CLI_USAGE, "train", "missing METHOD (`selfsup list` shows them)");
	a->m = sup_method_find(argv[0]);
	if (!a->m) {
		const char *best = sup_method_suggest(argv[0]);
		return cli_fail(CLI_USAGE, "train", "unknown method '%s'%s%s%s", argv[0],
				best ? " (did you mean '" : "", best ? best : "", best ? "'?)" : "");
	}
	a->kv = calloc((size_t)argc, sizeof *a->kv);
	a->eval_opts = calloc((size_t)argc, sizeof *a->eval_opts);
	if (!a->kv || !a->eval_opts)
		return cli_fail(CLI_FAIL, "train", "out of memory");
	for (int i = 1; i < argc; i++) {
		const char *s = argv[i];
		if (strcmp(s, "--json") == 0)
			a->json = true;
		else if (strcmp(s, "--print-config") == 0)
			a->print_config = true;
		else if (s[0] == '-')
			return cli_fail(CLI_USAGE, "train", "unknown option '%s' (options: --json --print-config --help)",
					s);
		else if (cli_eval_is_option(s))
			a->eval_opts[a->n_eval_opts++] = argv[i];
		else if (strchr(s, '='))
			a->kv[a->n_kv++] = argv[i];
		else if (!a->yaml)
			a->yaml = s;
		else
			return cli_fail(CLI_USAGE, "train",
					"a second config file '%s' (one CONFIG.yaml, then key=value)", s);
	}
	return CLI_OK;
}

/* "key":mean and, over several seeds, "key_std" (sample standard deviation) and "key_runs". */
static void print_stat(FILE *f, const char *key, const double *v, int n)
{
	double mean = 0, var = 0;
	for (int i = 0; i < n; i++)
		mean += v[i] / n;
	for (int i = 0; i < n; i++)
		var += (v[i] - mean) * (v[i] - mean);
	fprintf(f, ",\"%s\":", key);
	sup_json_write_number(f, mean);
	if (n > 1) {
		fprintf(f, ",\"%s_std\":", key);
		sup_json_write_number(f, sqrt(var / (n - 1)));
		fprintf(f, ",\"%s_runs\":[", key);
		for (int i = 0; i < n; i++) {
			fprintf(f, "%s", i ? "," : "");
			sup_json_write_number(f, v[i]);
		}
		fprintf(f, "]");
	}
}

static void print_summary(FILE *f, const struct sup_method *m, const struct sup_config *cfg, int64_t seed0,
			  const struct cli_train_result *r, int n)
{
	double secs = 0, v[1000];
	for (int i = 0; i < n; i++)
		secs += r[i].seconds;
	fprintf(f, "{\"method\":");
	sup_json_write_string(f, m->name);
	fprintf(f, ",\"data\":");
	sup_json_write_string(f, sup_config_str(cfg, "data"));
	fprintf(f, ",\"seed\":%lld,\"epochs\":%lld,\"steps\":%lld,\"seconds\":", (long long)seed0,
		(long long)r[n - 1].epochs, (long long)r[n - 1].steps);
	sup_json_write_number(f, secs);
	for (int i = 0; i < n; i++)
		v[i] = r[i].final_loss;
	print_stat(f, "final_loss", v, n);
	for (int k = 0; k < r[0].metrics.n; k++) {
		for (int i = 0; i < n; i++)
			v[i] = r[i].metrics.values[k];
		print_stat(f, r[0].metrics.names[k], v, n);
	}
	fprintf(f, ",\"run_dir\":");
	sup_json_write_string(f, r[n - 1].run_dir);
	fprintf(f, ",\"checkpoint\":");
	sup_json_write_string(f, r[n - 1].checkpoint);
	fprintf(f, "}\n");
}

static void write_summary_file(const struct sup_method *m, const struct sup_config *cfg, int64_t seed,
			       const struct cli_train_result *r)
{
	char path[1200];
	snprintf(path, sizeof path, "%s/summary.json", r->run_dir);
	FILE *f = fopen(path, "w");
	if (!f)
		return; /* the summary also goes to stdout; a missing copy is not worth failing the run */
	print_summary(f, m, cfg, seed, r, 1);
	fclose(f);
}

/* The evaluation's metrics as an "eval" record of the run's metrics.jsonl and TensorBoard scalars
 * "eval/<metric>" at the last step, so that they sit beside the training curves. */
static int log_eval(const struct cli_train_result *r, char *err, size_t es)
{
	struct sup_runlog *lg = NULL;
	if (sup_runlog_open(&lg, r->run_dir, err, es) != SUP_OK)
		return CLI_FAIL;
	struct sup_metric m[CLI_MAX_METRICS];
	for (int i = 0; i < r->metrics.n; i++)
		m[i] = (struct sup_metric){ r->metrics.names[i], r->metrics.values[i] };
	sup_runlog_write(lg, "eval", r->epochs, r->steps, r->seconds, m, r->metrics.n);
	return sup_runlog_close(lg, err, es) == SUP_OK ? CLI_OK : CLI_FAIL;
}

/* Fault injection for tests/dist/mpi_faults.sh: SELFSUP_TEST_FAULT=slow:RANK:SECONDS makes that
 * process sleep before its evaluation (eval=), as a long evaluation would. */
static void fault_slow_eval(int rank)
{
	const char *f = getenv("SELFSUP_TEST_FAULT");
	int r;
	double secs;
	if (!f || sscanf(f, "slow:%d:%lf", &r, &secs) != 2 || r != rank || !(secs > 0))
		return;
	fprintf(stderr, "selfsup train: SELFSUP_TEST_FAULT: process %d evaluates %g s slower\n", rank, secs);
	struct timespec ts = {(time_t)secs, (long)((secs - (double)(time_t)secs) * 1e9)};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* Checks the run-wide keys and resolves resume. */
static int resolve(struct train_args *a, struct sup_config **cfg, struct sup_safetensors **st,
		   struct sup_ckpt_meta *meta, char *err, size_t es)
{
	int code = cli_config_build(cfg, a->m, NULL, a->yaml, a->kv, a->n_kv, err, es);
	if (code != CLI_OK)
		return code;
	const char *resume = sup_config_str(*cfg, "resume");
	if (!*resume)
		return CLI_OK;
	char path[1100];
	cli_checkpoint_path(resume, path, sizeof path);
	enum sup_status s = sup_checkpoint_open(st, meta, path, err, es);
	if (s != SUP_OK) {
		char tmp[700];
		snprintf(tmp, sizeof tmp, "%s", err);
		snprintf(err, es, "resume: %s", tmp);
		return s == SUP_ERR_NOMEM ? CLI_FAIL : CLI_USAGE;
	}
	if (strcmp(meta->method, a->m->name) != 0) {
		snprintf(err, es, "resume: %.600s was written by method '%s', not '%s'", path, meta->method,
			 a->m->name);
		return CLI_USAGE;
	}
	sup_config_free(*cfg);
	*cfg = NULL;
	return cli_config_build(cfg, a->m, meta->config_yaml, a->yaml, a->kv, a->n_kv, err, es);
}

static int check_eval(const struct sup_config *cfg, const struct train_args *a, char *err, size_t es)
{
	char list[256];
	snprintf(list, sizeof list, "%s", sup_config_str(cfg, "eval"));
	char *save = NULL;
	for (char *p = strtok_r(list, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
		if (!cli_eval_known(p)) {
			snprintf(err, es,
				 "eval=%s: unknown evaluation protocol '%s' (`selfsup eval --help` lists them)",
				 sup_config_str(cfg, "eval"), p);
			return CLI_USAGE;
		}
	}
	/* Options of the evaluation (finetune.epochs=...) fail here, before any training. */
	return cli_eval_check_options(sup_config_str(cfg, "eval"), a->eval_opts, a->n_eval_opts, err, es);
}

int cli_cmd_train(int argc, char **argv, struct sup_dist *dist)
{
	const struct sup_comm *comm = dist ? sup_dist_comm(dist) : NULL;
	const int rank = sup_comm_rank(comm);
	for (int i = 0; i < argc; i++)
		if (cli_is_help(argv[i]))
			return help(i > 0 ? argv[0] : NULL);
	struct train_args a;
	int code = parse_args(&a, argc, argv);
	if (code != CLI_OK) {
		free(a.kv);
		free(a.eval_opts);
		return code;
	}
	char err[1024] = "";
	struct sup_config *cfg = NULL;
	struct sup_safetensors *st = NULL;
	struct sup_ckpt_meta meta;
	struct cli_train_result *res = NULL;
	int64_t seeds = 1, seed0 = 0;
	code = resolve(&a, &cfg, &st, &meta, err, sizeof err);
	if (code == CLI_OK && a.print_config) {
		char *yaml = sup_config_to_yaml(cfg);
		if (yaml)
			fputs(yaml, stdout);
		free(yaml);
		free(a.kv);
		free(a.eval_opts);
		sup_config_free(cfg);
		sup_safetensors_free(st);
		return yaml ? CLI_OK : cli_fail(CLI_FAIL, "train", "out of memory");
	}
	if (code == CLI_OK)
		code = check_eval(cfg, &a, err, sizeof err);
	if (code == CLI_OK) {
		seeds = sup_config_int(cfg, "seeds");
		seed0 = sup_config_int(cfg, "seed");
		if (seeds > 1 && st) {
			snprintf(err, sizeof err, "resume= continues one run; it cannot be combined with seeds=%lld",
				 (long long)seeds);
			code = CLI_USAGE;
		} else if (seeds < 1 || seeds > 1000) {
			snprintf(err, sizeof err, "config key 'seeds' must be in 1..1000, got %lld", (long long)seeds);
			code = CLI_USAGE;
		}
	}
	if (code == CLI_OK && dist)
		sup_dist_set_timeout(dist, sup_config_float(cfg, "dist.timeout"));
	if (code == CLI_OK && sup_config_int(cfg, "threads") > 0)
		omp_set_num_threads((int)sup_config_int(cfg, "threads"));
	if (code == CLI_OK && !(res = calloc((size_t)seeds, sizeof *res))) {
		snprintf(err, sizeof err, "out of memory");
		code = CLI_FAIL;
	}
	char out0[900];
	snprintf(out0, sizeof out0, "%s", cfg ? sup_config_str(cfg, "out") : "");
	for (int64_t k = 0; code == CLI_OK && k < seeds; k++) {
		char v[1024];
		if (seeds > 1) {
			snprintf(v, sizeof v, "%lld", (long long)(seed0 + k));
			sup_config_set(cfg, "seed", v, NULL, 0);
			if (*out0) {
				snprintf(v, sizeof v, "%s/seed-%lld", out0, (long long)(seed0 + k));
				sup_config_set(cfg, "out", v, NULL, 0);
			}
		}
		code = cli_train_run(a.m, cfg, st, st ? &meta : NULL, comm, &res[k], err, sizeof err);
		/* Evaluation and the summary are rank 0's (the only one with a run folder). */
		if (code == CLI_OK && rank == 0 && *sup_config_str(cfg, "eval"))
			fault_slow_eval(rank);
		if (code == CLI_OK && rank == 0 && *sup_config_str(cfg, "eval"))
			code = cli_eval_run(sup_config_str(cfg, "eval"), res[k].checkpoint, NULL, NULL, a.eval_opts,
					    a.n_eval_opts, NULL, 0, &res[k].metrics, err, sizeof err);
		if (code == CLI_OK && rank == 0 && res[k].metrics.n > 0)
			code = log_eval(&res[k], err, sizeof err);
		if (code == CLI_OK && rank == 0)
			write_summary_file(a.m, cfg, seed0 + k, &res[k]);
		/* Before the next seed, the other processes wait for rank 0's evaluation and files. The
		 * wait has no deadline: an evaluation may take longer than dist.timeout, which would
		 * otherwise end the job from the next seed's first collective. If rank 0 fails, main
		 * aborts the job, and a process that dies ends it through the launcher. */
		if (code == CLI_OK && k + 1 < seeds && sup_comm_size(comm) > 1 && sup_dist_barrier(dist, 0) != SUP_OK) {
			snprintf(err, sizeof err, "seed %lld: waiting for the other processes failed: %s",
				 (long long)(seed0 + k), sup_dist_error(dist));
			code = CLI_FAIL;
		}
	}
	if (code == CLI_OK && rank != 0) {
		/* stdout is rank 0's too. */
	} else if (code == CLI_OK) {
		if (!a.json) {
			printf("trained %s on %s: %lld epochs, %lld steps, final loss %.6g\nrun folder: %s\n",
			       a.m->name, sup_config_str(cfg, "data"), (long long)res[seeds - 1].epochs,
			       (long long)res[seeds - 1].steps, res[seeds - 1].final_loss, res[seeds - 1].run_dir);
			for (int i = 0; i < res[seeds - 1].metrics.n; i++)
				printf("%-12s %.4f\n", res[seeds - 1].metrics.names[i], res[seeds - 1].metrics.values[i]);
		} else {
			print_summary(stdout, a.m, cfg, seed0, res, (int)seeds);
		}
	} else {
		cli_fail(code, "train", "%s", err);
	}
	free(res);
	free(a.kv);
	free(a.eval_opts);
	sup_config_free(cfg);
	sup_safetensors_free(st);
	return code;
}
