/* The `selfsup` program, driven as users drive it: list, train (run folder contents, JSON
 * summary, checkpoint names and shapes), interrupted-and-resumed training that ends bit-identical
 * to an uninterrupted run, a config file that reproduces a run, embed, data, and bad input that
 * must exit 2 with one line naming the problem and leave no checkpoint behind. The program runs
 * the toy fixture on the synthetic data set, so this needs no data files and takes a second. */
#define _POSIX_C_SOURCE 200809L

#include "../io/iotest.h"
#include "selfsup/data.h"
#include "selfsup/eval.h"
#include "selfsup/run.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/wait.h>

#ifndef SELFSUP_BIN
#error "SELFSUP_BIN (the path of the selfsup program) is set by tests/CMakeLists.txt"
#endif

/* A text file NUL-terminated (iot_read_file leaves room: its length is below its capacity). */
static char *read_text(const char *path)
{
	size_t n;
	unsigned char *p = iot_read_file(path, &n);
	if (p)
		p[n] = 0;
	return (char *)p;
}

static char root[64], work[128];

struct res {
	int rc;
	char *out, *err;
};

static void res_free(struct res *r)
{
	free(r->out);
	free(r->err);
}

/* Runs `selfsup ARGS` in the work folder; captures exit status, stdout and stderr. */
static struct res run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static struct res run(const char *fmt, ...)
{
	char args[1024], cmd[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(args, sizeof args, fmt, ap);
	va_end(ap);
	snprintf(cmd, sizeof cmd, "cd '%s' && '%s' %s >'%s/out.txt' 2>'%s/err.txt'", work, SELFSUP_BIN, args, root,
		 root);
	int st = system(cmd);
	struct res r = {.rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1};
	char path[256];
	snprintf(path, sizeof path, "%s/out.txt", root);
	r.out = read_text(path);
	snprintf(path, sizeof path, "%s/err.txt", root);
	r.err = read_text(path);
	if (!r.out)
		r.out = calloc(1, 1);
	if (!r.err)
		r.err = calloc(1, 1);
	return r;
}

/* The last line of stdout as JSON (caller frees). */
static cJSON *last_json(const struct res *r)
{
	size_t len = strlen(r->out);
	while (len && r->out[len - 1] == '\n')
		len--;
	size_t start = len;
	while (start && r->out[start - 1] != '\n')
		start--;
	return cJSON_ParseWithLength(r->out + start, len - start);
}

static bool file_exists(const char *rel)
{
	char p[512];
	snprintf(p, sizeof p, "%s/%s", work, rel);
	FILE *f = fopen(p, "rb");
	if (f)
		fclose(f);
	return f != NULL;
}

/* Bad input: exit status 2, exactly one line on stderr, starting with "selfsup" and containing
 * needle; no checkpoint and no temporary file anywhere under out (if given). */
static void expect_bad(const char *needle, const char *out, const char *args)
{
	struct res r = run("%s", args);
	TU_CHECK_MSG(r.rc == 2, "`selfsup %s` exited %d (stderr: %s)", args, r.rc, r.err);
	size_t len = strlen(r.err);
	const char *nl = strchr(r.err, '\n');
	TU_CHECK_MSG(len > 0 && nl == r.err + len - 1 && strncmp(r.err, "selfsup", 7) == 0,
		     "`selfsup %s`: stderr is not one line: [%s]", args, r.err);
	TU_CHECK_MSG(strstr(r.err, needle) != NULL, "`selfsup %s`: [%s] lacks '%s'", args, r.err, needle);
	if (out) {
		char p[512];
		snprintf(p, sizeof p, "%s/checkpoint.safetensors", out);
		TU_CHECK_MSG(!file_exists(p), "`selfsup %s` left %s", args, p);
		snprintf(p, sizeof p, "%s/%s", work, out);
		TU_CHECK_MSG(iot_count(p, ".tmp.") <= 0, "`selfsup %s` left a temporary file", args);
	}
	res_free(&r);
}

static struct sup_safetensors *load_ckpt(const char *rel)
{
	char p[512];
	snprintf(p, sizeof p, "%s/%s", work, rel);
	struct sup_allocator a = sup_allocator_default();
	struct sup_safetensors *st = NULL;
	char err[256] = "";
	TU_CHECK_MSG(sup_safetensors_load(&st, &a, p, err, sizeof err) == SUP_OK, "%s", err);
	return st;
}

/* Every tensor of a equals (bitwise) the same-named tensor of b, and they have the same names. */
static bool same_tensors(const char *ra, const char *rb)
{
	struct sup_safetensors *a = load_ckpt(ra), *b = load_ckpt(rb);
	bool same = a && b && a->n_entries == b->n_entries;
	for (int64_t i = 0; same && i < a->n_entries; i++) {
		const struct sup_tensor *x = &a->entries[i].tensor, *y = sup_safetensors_get(b, a->entries[i].name);
		same = y && sup_tensor_same_shape(x, y) && memcmp(x->data, y->data, sup_tensor_nbytes(x)) == 0;
	}
	sup_safetensors_free(a);
	sup_safetensors_free(b);
	return same;
}

static void test_list_and_help(void)
{
	struct res r = run("list");
	TU_CHECK(r.rc == 0 && strncmp(r.out, "method", 6) == 0);
	res_free(&r);
	r = run("list --all --json");
	cJSON *j = last_json(&r), *ms = j ? cJSON_GetObjectItem(j, "methods") : NULL;
	TU_CHECK(r.rc == 0 && cJSON_IsArray(ms));
	bool toy = false;
	for (cJSON *m = ms ? ms->child : NULL; m; m = m->next)
		toy |= strcmp(cJSON_GetObjectItem(m, "name")->valuestring, "toy") == 0;
	TU_CHECK(toy);
	cJSON_Delete(j);
	res_free(&r);
	const char *cmds[] = {"list", "train", "eval", "embed", "sample", "data", "demo"};
	for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
		r = run("%s --help", cmds[i]);
		TU_CHECK_MSG(r.rc == 0 && strstr(r.out, "usage: selfsup") != NULL, "%s --help", cmds[i]);
		res_free(&r);
	}
	r = run("train toy --help");
	TU_CHECK(r.rc == 0 && strstr(r.out, "code_dim=2") && strstr(r.out, "optim.kind=adam"));
	res_free(&r);
	r = run("--help");
	TU_CHECK(r.rc == 0 && strstr(r.out, "train"));
	res_free(&r);
}

/* The finetune defaults for images and vectors that `eval finetune --help` prints (the program's
 * table, the one source docs/eval.md points to) are the library's sup_finetune_opts_default. */
static void test_finetune_defaults_agree(void)
{
	static const char *const optims[] = {
	    [SUP_OPTIM_ADAM] = "adam", [SUP_OPTIM_ADAMW] = "adamw", [SUP_OPTIM_SGD] = "sgd"};
	static const char *const scheds[] = {
	    [SUP_FT_SCHED_CONST] = "const", [SUP_FT_SCHED_LINEAR] = "linear", [SUP_FT_SCHED_COSINE] = "cosine"};
	struct sup_finetune_opts o;
	sup_finetune_opts_default(&o);
	const struct {
		const char *key;
		double want;
	} num[] = {{"epochs", (double)o.epochs},
		   {"batch_size", (double)o.batch_size},
		   {"lr", o.lr},
		   {"weight_decay", o.weight_decay},
		   {"warmup", o.warmup},
		   {"grad_clip", o.grad_clip},
		   {"val_fraction", o.val_fraction},
		   {"patience", (double)o.patience},
		   {"max_steps", (double)o.max_steps},
		   {"seed", (double)o.seed}};
	struct res r = run("eval finetune --help");
	char *img = strstr(r.out, "finetune options, images"),
	     *end = img ? strstr(img, "finetune options, text") : NULL;
	TU_CHECK_MSG(r.rc == 0 && img && end, "eval finetune --help: %s", r.out);
	if (end)
		*end = 0; /* the image set only */
	char key[64];
	for (size_t i = 0; img && i < sizeof num / sizeof num[0]; i++) {
		snprintf(key, sizeof key, "  finetune.%s=", num[i].key);
		const char *v = strstr(img, key);
		TU_CHECK_MSG(v && strtod(v + strlen(key), NULL) == num[i].want,
			     "finetune.%s: --help says %.12s, the library %g", num[i].key,
			     v ? v + strlen(key) : "nothing", num[i].want);
	}
	snprintf(key, sizeof key, "  finetune.optim=%s ", optims[o.optim]);
	TU_CHECK_MSG(img && strstr(img, key), "finetune.optim: the library's is %s", optims[o.optim]);
	snprintf(key, sizeof key, "  finetune.schedule=%s ", scheds[o.schedule]);
	TU_CHECK_MSG(img && strstr(img, key), "finetune.schedule: the library's is %s", scheds[o.schedule]);
	res_free(&r);
}

static void test_train_run_folder(void)
{
	struct res r = run("train toy out=full epochs=3 --json");
	TU_CHECK_MSG(r.rc == 0, "%s", r.err);
	cJSON *j = last_json(&r);
	TU_CHECK(j != NULL);
	const char *keys[] = {"method", "data", "seed", "epochs", "seconds", "final_loss"};
	for (size_t i = 0; j && i < sizeof keys / sizeof keys[0]; i++)
		TU_CHECK_MSG(cJSON_GetObjectItem(j, keys[i]) != NULL, "summary lacks %s", keys[i]);
	TU_CHECK(j && strcmp(cJSON_GetObjectItem(j, "method")->valuestring, "toy") == 0);
	TU_CHECK(j && cJSON_GetObjectItem(j, "epochs")->valueint == 3 &&
		 cJSON_GetObjectItem(j, "steps")->valueint == 24);
	cJSON_Delete(j);
	res_free(&r);
	TU_CHECK(file_exists("full/config.yaml") && file_exists("full/metrics.jsonl") &&
		 file_exists("full/summary.json") && file_exists("full/checkpoint.safetensors") &&
		 file_exists("full/curves.svg"));
	char p[512];
	snprintf(p, sizeof p, "%s/full", work);
	TU_CHECK(iot_count(p, "tfevents") == 1 && iot_count(p, ".tmp.") == 0);

	/* metrics.jsonl: JSON objects; 3 epoch records and a step record every log_every=4 steps. */
	snprintf(p, sizeof p, "%s/full/metrics.jsonl", work);
	char *text = read_text(p);
	int epochs = 0, steps = 0;
	for (char *save = NULL, *line = text ? strtok_r(text, "\n", &save) : NULL; line;
	     line = strtok_r(NULL, "\n", &save)) {
		cJSON *o = cJSON_Parse(line);
		TU_CHECK_MSG(o && cJSON_IsNumber(cJSON_GetObjectItem(o, "loss")), "%s", line);
		const char *kind = o ? cJSON_GetObjectItem(o, "kind")->valuestring : "";
		epochs += strcmp(kind, "epoch") == 0;
		steps += strcmp(kind, "step") == 0;
		cJSON_Delete(o);
	}
	TU_CHECK(epochs == 3 && steps == 6);
	free(text);

	/* The checkpoint: PyTorch-style names and shapes, optimizer slots, metadata. */
	struct sup_safetensors *st = load_ckpt("full/checkpoint.safetensors");
	struct {
		const char *name;
		int64_t d0, d1;
	} want[] = {{"encoder.weight", 2, 8},
		    {"encoder.bias", 2, 0},
		    {"decoder.weight", 8, 2},
		    {"decoder.bias", 8, 0},
		    {"optim.slot1.encoder.weight", 2, 8},
		    {"optim.slot2.decoder.bias", 8, 0}};
	for (size_t i = 0; st && i < sizeof want / sizeof want[0]; i++) {
		const struct sup_tensor *t = sup_safetensors_get(st, want[i].name);
		TU_CHECK_MSG(t && t->shape[0] == want[i].d0 &&
				 (want[i].d1 == 0 ? t->ndim == 1 : t->shape[1] == want[i].d1),
			     "%s", want[i].name);
	}
	TU_CHECK(st && st->n_entries == 12);
	TU_CHECK(st && strcmp(sup_safetensors_meta(st, "method"), "toy") == 0 &&
		 strcmp(sup_safetensors_meta(st, "epoch"), "3") == 0 &&
		 strcmp(sup_safetensors_meta(st, "step"), "24") == 0);
	sup_safetensors_free(st);

	/* A default run folder is runs/<method>-<data>-<time>. */
	r = run("train toy epochs=1 --json");
	j = last_json(&r);
	const char *dir = j ? cJSON_GetObjectItem(j, "run_dir")->valuestring : "";
	TU_CHECK_MSG(r.rc == 0 && strncmp(dir, "runs/toy-synthetic-20", 21) == 0, "%s", dir);
	cJSON_Delete(j);
	res_free(&r);
}

/* The loss of the "epoch" record of epoch e in <dir>/metrics.jsonl (NAN when absent). */
static double epoch_loss(const char *dir, int e)
{
	char p[512];
	snprintf(p, sizeof p, "%s/%s/metrics.jsonl", work, dir);
	char *text = read_text(p);
	double v = NAN;
	for (char *save = NULL, *line = text ? strtok_r(text, "\n", &save) : NULL; line;
	     line = strtok_r(NULL, "\n", &save)) {
		cJSON *o = cJSON_Parse(line);
		if (o && strcmp(cJSON_GetObjectItem(o, "kind")->valuestring, "epoch") == 0 &&
		    cJSON_GetObjectItem(o, "epoch")->valueint == e)
			v = cJSON_GetObjectItem(o, "loss")->valuedouble;
		cJSON_Delete(o);
	}
	free(text);
	return v;
}

/* Interrupted (steps=) and resumed runs end bit-identical to the uninterrupted one, whether the
 * interruption falls inside an epoch or at its end; so does re-running the saved config. */
static void test_resume(void)
{
	struct res r = run("train toy out=part steps=10 --json");
	TU_CHECK_MSG(r.rc == 0, "%s", r.err);
	res_free(&r);
	struct sup_safetensors *st = load_ckpt("part/checkpoint.safetensors");
	TU_CHECK(st && strcmp(sup_safetensors_meta(st, "epoch"), "1") == 0 &&
		 strcmp(sup_safetensors_meta(st, "epoch_step"), "2") == 0);
	sup_safetensors_free(st);
	TU_CHECK(!same_tensors("part/checkpoint.safetensors", "full/checkpoint.safetensors"));
	r = run("train toy resume=part out=resumed --json");
	TU_CHECK_MSG(r.rc == 0, "%s", r.err);
	cJSON *a = last_json(&r);
	res_free(&r);
	TU_CHECK(same_tensors("resumed/checkpoint.safetensors", "full/checkpoint.safetensors"));
	/* The epoch cut by the interruption reports the same mean loss (its running sum was saved). */
	TU_CHECK(isfinite(epoch_loss("full", 2)) && epoch_loss("resumed", 2) == epoch_loss("full", 2));
	TU_CHECK(isnan(epoch_loss("resumed", 1)) && epoch_loss("resumed", 3) == epoch_loss("full", 3));
	/* The final loss (the last epoch's mean) matches to the bit too. */
	struct res f = run("train toy out=full2 epochs=3 --json");
	cJSON *b = last_json(&f);
	TU_CHECK(a && b &&
		 cJSON_GetObjectItem(a, "final_loss")->valuedouble ==
		     cJSON_GetObjectItem(b, "final_loss")->valuedouble);
	cJSON_Delete(a);
	cJSON_Delete(b);
	res_free(&f);

	/* At an epoch boundary, resuming from the checkpoint file itself, in two hops. */
	r = run("train toy out=p16 steps=16");
	res_free(&r);
	r = run("train toy resume=p16/checkpoint.safetensors out=p20 steps=20");
	res_free(&r);
	r = run("train toy resume=p20 out=p24");
	TU_CHECK_MSG(r.rc == 0, "%s", r.err);
	res_free(&r);
	TU_CHECK(same_tensors("p24/checkpoint.safetensors", "full/checkpoint.safetensors"));

	/* The saved config reproduces the run. */
	r = run("train toy full/config.yaml out=rerun");
	TU_CHECK_MSG(r.rc == 0, "%s", r.err);
	res_free(&r);
	TU_CHECK(same_tensors("rerun/checkpoint.safetensors", "full/checkpoint.safetensors"));
	/* ... and a different seed does not. */
	r = run("train toy seed=1 out=seed1");
	res_free(&r);
	TU_CHECK(!same_tensors("seed1/checkpoint.safetensors", "full/checkpoint.safetensors"));
}

static void test_config_file_and_seeds(void)
{
	char p[512];
	snprintf(p, sizeof p, "%s/my.yaml", work);
	const char *y = "epochs: 2\noptim:\n  kind: sgd   # plain SGD\n  momentum: 0.5\n";
	TU_CHECK(iot_write_file(p, y, strlen(y)));
	struct res r = run("train toy my.yaml optim.momentum=0.8 out=cfg seeds=2 --json");
	TU_CHECK_MSG(r.rc == 0, "%s", r.err);
	cJSON *j = last_json(&r);
	TU_CHECK(j && cJSON_IsNumber(cJSON_GetObjectItem(j, "final_loss_std")) &&
		 cJSON_GetArraySize(cJSON_GetObjectItem(j, "final_loss_runs")) == 2);
	cJSON_Delete(j);
	res_free(&r);
	snprintf(p, sizeof p, "%s/cfg/seed-1/config.yaml", work);
	char *text = read_text(p);
	TU_CHECK(text && strstr(text, "  kind: sgd") && strstr(text, "  momentum: 0.8") && strstr(text, "epochs: 2") &&
		 strstr(text, "seed: 1"));
	free(text);
}

static void test_embed_and_data(void)
{
	struct res r = run("embed full out=emb.npy labels=lab.npy --json");
	TU_CHECK_MSG(r.rc == 0, "%s", r.err);
	cJSON *j = last_json(&r);
	TU_CHECK(j && cJSON_GetObjectItem(j, "n")->valueint == 512 && cJSON_GetObjectItem(j, "dim")->valueint == 2);
	cJSON_Delete(j);
	res_free(&r);
	char p[512];
	snprintf(p, sizeof p, "%s/emb.npy", work);
	struct sup_allocator a = sup_allocator_default();
	struct sup_tensor t;
	TU_CHECK(sup_npy_load(&t, &a, p, NULL, 0) == SUP_OK);
	TU_CHECK(t.dtype == SUP_F32 && t.ndim == 2 && t.shape[0] == 512 && t.shape[1] == 2);
	double s = 0;
	for (int64_t i = 0; i < 1024; i++)
		s += fabs(sup_tensor_get(&t, i));
	TU_CHECK(s > 0 && isfinite(s));
	sup_free(&a, t.data);
	snprintf(p, sizeof p, "%s/lab.npy", work);
	TU_CHECK(sup_npy_load(&t, &a, p, NULL, 0) == SUP_OK && t.dtype == SUP_I64 && t.shape[0] == 512);
	sup_free(&a, t.data);
	/* The t-SNE map of the test split (512 points), coloured by the 4 labels. One thread: the
	 * O(n^2) loops are short, and OpenMP barriers on a busy machine cost more than they save. */
	const char *omp = getenv("OMP_NUM_THREADS");
	char saved[32];
	snprintf(saved, sizeof saved, "%s", omp ? omp : "");
	setenv("OMP_NUM_THREADS", "1", 1);
	r = run("embed full split=test out=emb_test.npy plot=map.svg");
	TU_CHECK_MSG(r.rc == 0 && file_exists("map.svg"), "%s", r.err);
	res_free(&r);
	if (*saved)
		setenv("OMP_NUM_THREADS", saved, 1);
	else
		unsetenv("OMP_NUM_THREADS");
	r = run("data info synthetic --json");
	j = last_json(&r);
	TU_CHECK(r.rc == 0 && j && cJSON_GetObjectItem(cJSON_GetObjectItem(j, "train"), "examples")->valueint == 512);
	cJSON_Delete(j);
	res_free(&r);
	r = run("data check synthetic");
	TU_CHECK(r.rc == 0 && strstr(r.out, "check: ok"));
	res_free(&r);
}

/* Text tokens (needs Debian's fortunes): the BPE sets carry one learned vocabulary; `tokenizer`
 * picks the token set of data=fortunes for mlm (bpe by default) and the run records it; a
 * checkpoint is evaluated in its own tokens whatever fortunes set is named; gpt refuses BPE. */
static void test_text_tokenizers(void)
{
	if (access(SUP_FORTUNES_DIR "/fortunes", R_OK) != 0) {
		printf("skipping the text tokenizers: Debian's fortunes package is not installed\n");
		return;
	}
	const char *sets[] = {"fortunes-bpe", "fortune-8-bpe"};
	for (int i = 0; i < 2; i++) {
		struct res r = run("data info %s --json", sets[i]);
		cJSON *j = last_json(&r), *tr = j ? cJSON_GetObjectItem(j, "train") : NULL;
		TU_CHECK_MSG(r.rc == 0 && tr && cJSON_GetObjectItem(tr, "vocab")->valueint == 4096 &&
				 cJSON_GetObjectItem(tr, "classes")->valueint == (i ? 8 : 0),
			     "%s: %s", sets[i], r.out);
		cJSON_Delete(j);
		res_free(&r);
	}
	const char *tiny = "steps=3 batch_size=4 layers=1 dim=32 heads=1 ffn=64 threads=1";
	const struct {
		const char *args, *out, *data;
		int64_t vocab;
	} runs[] = {{"", "tok_bpe", "fortunes-bpe", 4096}, {"tokenizer=byte data=fortunes-bpe", "tok_byte", "fortunes", 260}};
	for (int i = 0; i < 2; i++) {
		struct res r = run("train mlm %s %s out=%s --json", runs[i].args, tiny, runs[i].out);
		cJSON *j = last_json(&r), *d = j ? cJSON_GetObjectItem(j, "data") : NULL;
		TU_CHECK_MSG(r.rc == 0 && cJSON_IsString(d) && strcmp(d->valuestring, runs[i].data) == 0, "%s: %s",
			     runs[i].out, r.err);
		cJSON_Delete(j);
		res_free(&r);
		char rel[64];
		snprintf(rel, sizeof rel, "%s/checkpoint.safetensors", runs[i].out);
		struct sup_safetensors *st = load_ckpt(rel);
		const struct sup_tensor *emb = st ? sup_safetensors_get(st, "bert.tok_emb.weight") : NULL;
		TU_CHECK_MSG(emb && emb->shape[0] == runs[i].vocab && emb->shape[1] == 32, "%s", runs[i].out);
		sup_safetensors_free(st);
	}
	struct res r = run("eval knn tok_byte data=fortunes-bpe threads=1 --json");
	cJSON *j = last_json(&r);
	TU_CHECK_MSG(r.rc == 0 && j && cJSON_GetObjectItem(j, "knn_acc"), "%s", r.err);
	cJSON_Delete(j);
	res_free(&r);
	expect_bad("gpt models bytes", "bpe_gpt", "train gpt data=fortunes-bpe steps=1 out=bpe_gpt");
}

static void test_bad_input(void)
{
	expect_bad("unknown command 'trian'", NULL, "trian toy");
	expect_bad("unknown method 'toyy' (did you mean 'toy'?)", NULL, "train toyy out=b1");
	expect_bad("missing METHOD", NULL, "train");
	expect_bad("unknown config key 'epochz' (did you mean 'epochs'?)", "b2", "train toy epochz=3 out=b2");
	expect_bad("config key 'epochs' expects an integer, got 'ten'", "b3", "train toy epochs=ten out=b3");
	expect_bad("expects one of sgd|adam, got 'lbfgs'", "b4", "train toy optim.kind=lbfgs out=b4");
	expect_bad("/no/such/data", "b5", "train toy data=/no/such/data out=b5");
	expect_bad("batch_size 100000 is larger", "b6", "train toy batch_size=100000 out=b6");
	expect_bad("'epochs' must be >= 0", "b7", "train toy epochs=-1 out=b7");
	expect_bad("unknown option '--jsno'", NULL, "train toy --jsno");
	expect_bad("no_such.yaml", "b8", "train toy no_such.yaml out=b8");
	expect_bad("unknown evaluation protocol 'linaer'", "b9", "train toy eval=linaer out=b9");

	char p[512];
	snprintf(p, sizeof p, "%s/bad.yaml", work);
	TU_CHECK(iot_write_file(p, "epochs: 2\noptim:\n  knd: sgd\n", 26));
	expect_bad("bad.yaml:3: unknown config key 'optim.knd' (did you mean 'optim.kind'?)", "b10",
		   "train toy bad.yaml out=b10");
	/* Corrupt checkpoints: garbage, truncated, missing. */
	snprintf(p, sizeof p, "%s/garbage.safetensors", work);
	TU_CHECK(iot_write_file(p, "this is not a checkpoint at all", 31));
	expect_bad("not a valid checkpoint", "b11", "train toy resume=garbage.safetensors out=b11");
	snprintf(p, sizeof p, "%s/full/checkpoint.safetensors", work);
	size_t n;
	unsigned char *bytes = iot_read_file(p, &n);
	snprintf(p, sizeof p, "%s/trunc.safetensors", work);
	TU_CHECK(bytes && iot_write_file(p, bytes, n / 2));
	free(bytes);
	expect_bad("trunc.safetensors", "b12", "train toy resume=trunc.safetensors out=b12");
	expect_bad("missing.safetensors", "b13", "train toy resume=missing.safetensors out=b13");
	expect_bad("not a valid checkpoint", NULL, "embed garbage.safetensors out=e.npy");
	expect_bad("not a valid checkpoint", NULL, "eval linear trunc.safetensors");
	/* A checkpoint of a method this build does not have. */
	struct sup_model m;
	sup_model_init(&m, sup_allocator_default());
	sup_model_add(&m, "encoder", "weight", SUP_KIND_PARAM, 2, (const int64_t[]){2, 8}, SUP_INIT_ZEROS, 0, 0);
	struct sup_rng rng = sup_rng_make(0, 0);
	TU_CHECK(sup_model_build(&m, &rng) == SUP_OK);
	struct sup_ckpt_part part = {"model", "", &m, NULL};
	struct sup_ckpt_meta meta = {
	    .method = "nosuchmethod", .config_yaml = "epochs: 1\n", .data = "synthetic", .rng = {1, 2}};
	snprintf(p, sizeof p, "%s/other.safetensors", work);
	TU_CHECK(sup_checkpoint_save(p, &part, 1, &meta, NULL, 0) == SUP_OK);
	sup_model_deinit(&m);
	expect_bad("written by method 'nosuchmethod', not 'toy'", "b14", "train toy resume=other.safetensors out=b14");
	expect_bad("written by method 'nosuchmethod'", NULL, "embed other.safetensors out=e.npy");
	/* A checkpoint of the same method with another model shape (code_dim changed). */
	expect_bad("'encoder.weight'", "b15", "train toy resume=full code_dim=3 out=b15");
	expect_bad("resume= continues one run", "b16", "train toy resume=full seeds=2 out=b16");
	expect_bad("is not generative", NULL, "sample full");
	expect_bad("expected CHECKPOINT and out=FILE.npy", NULL, "embed full");
	expect_bad("neither a registered data set", NULL, "data info /no/such/dir");
	expect_bad("unknown verb", NULL, "data frob synthetic");
	expect_bad("/no/such/dir", NULL, "demo data=/no/such/dir");
	TU_CHECK(!file_exists("e.npy"));
}

/* eval: protocols on a checkpoint, the raw-input and random-encoder baselines, bad protocol. */
static void test_eval(void)
{
	struct res r = run("eval linear,knn,cluster full --json");
	TU_CHECK_MSG(r.rc == 0, "%s", r.err);
	cJSON *j = last_json(&r);
	TU_CHECK(j && cJSON_GetObjectItem(j, "linear_acc") && cJSON_GetObjectItem(j, "knn_acc") &&
		 cJSON_GetObjectItem(j, "nmi"));
	double trained = j && cJSON_GetObjectItem(j, "linear_acc") ? cJSON_GetObjectItem(j, "linear_acc")->valuedouble : 0;
	TU_CHECK_MSG(trained > 0.8, "linear_acc %g", trained);
	cJSON_Delete(j);
	res_free(&r);
	r = run("eval linear raw data=synthetic --json");
	j = last_json(&r);
	TU_CHECK_MSG(r.rc == 0 && j && cJSON_GetObjectItem(j, "linear_acc"), "%s", r.err);
	cJSON_Delete(j);
	res_free(&r);
	r = run("eval linear random method=toy --json");
	j = last_json(&r);
	TU_CHECK_MSG(r.rc == 0 && j && cJSON_GetObjectItem(j, "linear_acc"), "%s", r.err);
	cJSON_Delete(j);
	res_free(&r);
	r = run("eval linear random");
	TU_CHECK(r.rc == 2 && strstr(r.err, "method="));
	res_free(&r);
	r = run("eval nope full");
	TU_CHECK(r.rc == 2 && strstr(r.err, "unknown evaluation protocol 'nope'"));
	res_free(&r);
	/* KEY=VALUE changes the method's config before the model is built: a key that leaves the
	 * shapes alone evaluates; one that changes them fails at the restore; unknown keys and the
	 * raw baseline (no method) are usage errors. */
	r = run("eval linear full noise=0.5 --json");
	j = last_json(&r);
	TU_CHECK_MSG(r.rc == 0 && j && cJSON_GetObjectItem(j, "linear_acc"), "%s", r.err);
	cJSON_Delete(j);
	res_free(&r);
	r = run("eval linear full code_dim=5");
	TU_CHECK_MSG(r.rc != 0 && r.err[0], "rc %d", r.rc);
	res_free(&r);
	r = run("eval linear full no_such_key=1");
	TU_CHECK(r.rc == 2 && strstr(r.err, "no_such_key"));
	res_free(&r);
	r = run("eval linear raw data=synthetic noise=0.5");
	TU_CHECK(r.rc == 2 && strstr(r.err, "raw-input baseline"));
	res_free(&r);
}

/* finetune through the program: learns the synthetic quadrants, deterministic, leaves the
 * checkpoint file and the other protocols' results alone; options are checked up front (in
 * `train` before any training) with errors naming the option. */
static void test_finetune(void)
{
	static const char *const opts = "finetune.batch_size=32 finetune.epochs=10 finetune.lr=0.01";
	char ck[256];
	snprintf(ck, sizeof ck, "%s/full/checkpoint.safetensors", work);
	size_t n0 = 0, n1 = 0;
	unsigned char *before = iot_read_file(ck, &n0);
	struct res r = run("eval linear full --json"), r2;
	cJSON *j = last_json(&r), *j2;
	double lin = j && cJSON_GetObjectItem(j, "linear_acc") ? cJSON_GetObjectItem(j, "linear_acc")->valuedouble : -1;
	cJSON_Delete(j);
	res_free(&r);
	r = run("eval finetune,linear full %s --json", opts);
	r2 = run("eval finetune full %s --json", opts);
	j = last_json(&r), j2 = last_json(&r2);
	TU_CHECK_MSG(r.rc == 0 && r2.rc == 0 && j && j2, "%s", r.err);
	double ft = j && cJSON_GetObjectItem(j, "finetune_acc") ? cJSON_GetObjectItem(j, "finetune_acc")->valuedouble : 0;
	double ft2 = j2 && cJSON_GetObjectItem(j2, "finetune_acc") ? cJSON_GetObjectItem(j2, "finetune_acc")->valuedouble : 1;
	TU_CHECK_MSG(ft > 0.8, "finetune_acc %g (chance 0.25)", ft);
	TU_CHECK_MSG(ft == ft2, "finetune_acc %g then %g", ft, ft2);
	TU_CHECK_MSG(j && cJSON_GetObjectItem(j, "linear_acc") && cJSON_GetObjectItem(j, "linear_acc")->valuedouble == lin,
		     "linear_acc after finetune differs from %g: %s", lin, r.out);
	TU_CHECK_MSG(strstr(r.err, "finetune epoch 10/10") != NULL, "no progress lines: %s", r.err);
	cJSON_Delete(j);
	cJSON_Delete(j2);
	res_free(&r);
	res_free(&r2);
	unsigned char *after = iot_read_file(ck, &n1);
	TU_CHECK_MSG(before && after && n0 == n1 && memcmp(before, after, n0) == 0, "the checkpoint file changed");
	free(before);
	free(after);
	/* the untrained-encoder baseline (supervised training from scratch) and train ... eval= */
	r = run("eval finetune random method=toy %s --json", opts);
	j = last_json(&r);
	TU_CHECK_MSG(r.rc == 0 && j && cJSON_GetObjectItem(j, "finetune_acc"), "%s", r.err);
	cJSON_Delete(j);
	res_free(&r);
	r = run("train toy epochs=1 out=ft eval=finetune %s --json", opts);
	j = last_json(&r);
	TU_CHECK_MSG(r.rc == 0 && j && cJSON_GetObjectItem(j, "finetune_acc"), "%s", r.err);
	cJSON_Delete(j);
	res_free(&r);
	/* the evaluation is logged beside the training curves: an "eval" record in metrics.jsonl
	 * and a second event file (the first one, of training, is kept) */
	char p[1200];
	snprintf(p, sizeof p, "%s/ft/metrics.jsonl", work);
	size_t nm = 0;
	char *mj = (char *)iot_read_file(p, &nm);
	TU_CHECK_MSG(mj && strstr(mj, "{\"kind\":\"eval\"") && strstr(mj, "\"finetune_acc\":"),
		     "no eval record in ft/metrics.jsonl");
	free(mj);
	snprintf(p, sizeof p, "%s/ft", work);
	TU_CHECK(iot_count(p, "tfevents") == 2);
	expect_bad("unknown eval option 'finetune.epoch' (did you mean 'finetune.epochs'?)", NULL,
		   "eval finetune full finetune.epoch=2");
	expect_bad("'finetune.lr' must be > 0", NULL, "eval finetune full finetune.lr=-1");
	expect_bad("finetune.optim", NULL, "eval finetune full finetune.optim=lbfgs");
	expect_bad("'finetune.epochs' expects an integer", NULL, "eval finetune full finetune.epochs=ten");
	expect_bad("not in 'linear'", NULL, "eval linear full finetune.epochs=2");
	expect_bad("raw-input baseline", NULL, "eval finetune raw data=synthetic");
	expect_bad("finetune.val_fraction", "ftbad", "train toy epochs=1 out=ftbad eval=finetune finetune.val_fraction=1");
	TU_CHECK(!file_exists("ftbad/config.yaml"));
}

int main(void)
{
	snprintf(root, sizeof root, "/tmp/selfsup_cli_XXXXXX");
	if (!mkdtemp(root))
		return 1;
	snprintf(work, sizeof work, "%s/w", root);
	mkdir(work, 0777);
	test_list_and_help();
	test_finetune_defaults_agree();
	test_train_run_folder();
	test_resume();
	test_config_file_and_seeds();
	test_embed_and_data();
	test_eval();
	test_finetune();
	test_text_tokenizers();
	test_bad_input();
	int rc = tu_finish("cli/cli");
	if (rc == 0) {
		char cmd[256];
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", root);
	} else {
		fprintf(stderr, "(files kept in %s)\n", root);
	}
	return rc;
}
