/* The graph source of `selfsup` driven as users drive it, on a tiny hand-made graph folder
 * (tests/methods/tiny_graph.h: unlabelled nodes, an isolated node, an all-zero feature row):
 * train dgi with eval=linear,knn (node masks), train gae/vgae with eval=linkpred (the edge split
 * of the run's seed) and seeds=2 (mean and std in the JSON summary), `eval` and `embed` of a
 * trained checkpoint, DGI's early stopping ending a run before its epochs, and the errors for
 * linkpred without held-out edges, a graph folder missing a file and a graph method on vectors. Takes a second or two. */
#define _POSIX_C_SOURCE 200809L

#include "../io/iotest.h"
#include "../methods/tiny_graph.h"
#include "selfsup/io.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef SELFSUP_BIN
#error "SELFSUP_BIN (the path of the selfsup program) is set by tests/CMakeLists.txt"
#endif

static char root[64];

struct res {
	int rc;
	char out[8192], err[4096];
};

static void slurp(const char *path, char *buf, size_t cap)
{
	FILE *f = fopen(path, "rb");
	size_t n = f ? fread(buf, 1, cap - 1, f) : 0;
	buf[n] = 0;
	if (f)
		fclose(f);
}

/* Runs `selfsup ARGS` in root; captures exit status, stdout and stderr. */
static void run(struct res *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void run(struct res *r, const char *fmt, ...)
{
	char args[1024], cmd[2048], path[128];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(args, sizeof args, fmt, ap);
	va_end(ap);
	snprintf(cmd, sizeof cmd, "cd '%s' && OMP_NUM_THREADS=1 '%s' %s >out.txt 2>err.txt", root, SELFSUP_BIN, args);
	int st = system(cmd);
	r->rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	snprintf(path, sizeof path, "%s/out.txt", root);
	slurp(path, r->out, sizeof r->out);
	snprintf(path, sizeof path, "%s/err.txt", root);
	slurp(path, r->err, sizeof r->err);
}

/* The last stdout line as JSON. */
static cJSON *last_json(const struct res *r)
{
	size_t len = strlen(r->out);
	while (len && r->out[len - 1] == '\n')
		len--;
	size_t start = len;
	while (start && r->out[start - 1] != '\n')
		start--;
	char line[8192];
	snprintf(line, sizeof line, "%.*s", (int)(len - start), r->out + start);
	return cJSON_Parse(line);
}

static double num(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static bool in01(double v)
{
	return v >= 0 && v <= 1;
}

static void test_dgi(void)
{
	struct res r;
	run(&r, "train dgi data=graph hidden=16 epochs=5 eval=linear,knn out=dgi --json");
	TU_CHECK_MSG(r.rc == 0, "rc %d: %s", r.rc, r.err);
	cJSON *o = last_json(&r);
	TU_CHECK(o && in01(num(o, "linear_acc")) && in01(num(o, "knn_acc")) && num(o, "epochs") == 5);
	double acc = num(o, "linear_acc");
	cJSON_Delete(o);
	/* eval of the checkpoint gives the same accuracy (same embeddings, same probe) */
	run(&r, "eval linear dgi --json");
	TU_CHECK_MSG(r.rc == 0, "rc %d: %s", r.rc, r.err);
	o = last_json(&r);
	TU_CHECK_MSG(o && num(o, "linear_acc") == acc, "%s", r.out);
	cJSON_Delete(o);
	/* finetune on the node masks (transductive): DGI's GCN and a head trained on the 6 train
	 * nodes, epoch chosen on the 2 val nodes, scored on the test nodes; checkpoint untouched */
	char ck[160];
	snprintf(ck, sizeof ck, "%s/dgi/checkpoint.safetensors", root);
	size_t n0 = 0, n1 = 0;
	unsigned char *before = iot_read_file(ck, &n0);
	run(&r, "eval finetune,linear dgi finetune.epochs=20 --json");
	TU_CHECK_MSG(r.rc == 0, "rc %d: %s", r.rc, r.err);
	o = last_json(&r);
	TU_CHECK_MSG(o && in01(num(o, "finetune_acc")) && num(o, "linear_acc") == acc, "%s", r.out);
	cJSON_Delete(o);
	unsigned char *after = iot_read_file(ck, &n1);
	TU_CHECK(before && after && n0 == n1 && memcmp(before, after, n0) == 0);
	free(before);
	free(after);
	/* linkpred needs held-out edges, which DGI's run did not have */
	run(&r, "eval linkpred dgi");
	TU_CHECK_MSG(r.rc == 2 && strstr(r.err, "linkpred needs") != NULL, "rc %d: %s", r.rc, r.err);
	/* early stopping: patience 1 with a large rate stops long before 500 epochs */
	run(&r, "train dgi data=graph hidden=16 lr=0.05 patience=1 epochs=500 out=dgi_es --json");
	TU_CHECK_MSG(r.rc == 0, "rc %d: %s", r.rc, r.err);
	o = last_json(&r);
	TU_CHECK_MSG(o && num(o, "epochs") < 500 && num(o, "epochs") == num(o, "steps"), "%s", r.out);
	cJSON_Delete(o);
}

static void test_gae(const char *method)
{
	struct res r;
	run(&r, "train %s data=graph hidden=8 latent=4 epochs=5 eval=linkpred seeds=2 out=%s --json", method, method);
	TU_CHECK_MSG(r.rc == 0, "rc %d: %s", r.rc, r.err);
	cJSON *o = last_json(&r);
	TU_CHECK_MSG(o && in01(num(o, "auc")) && in01(num(o, "ap")) && num(o, "auc_std") >= 0, "%s", r.out);
	const cJSON *runs = o ? cJSON_GetObjectItemCaseSensitive(o, "auc_runs") : NULL;
	double auc1 = cJSON_GetArraySize(runs) == 2 ? cJSON_GetArrayItem(runs, 1)->valuedouble : NAN;
	cJSON_Delete(o);
	/* the embeddings of the training graph: [N, latent] */
	run(&r, "embed %s/seed-1 out=z_%s.npy", method, method);
	TU_CHECK_MSG(r.rc == 0, "rc %d: %s", r.rc, r.err);
	char path[160], err[256];
	snprintf(path, sizeof path, "%s/z_%s.npy", root, method);
	struct sup_allocator al = sup_allocator_default();
	struct sup_tensor t = {0};
	TU_CHECK_MSG(sup_npy_load(&t, &al, path, err, sizeof err) == SUP_OK, "%s", err);
	TU_CHECK(t.ndim == 2 && t.shape[0] == N && t.shape[1] == 4);
	sup_free(&al, t.data);
	/* eval linkpred rebuilds the split of the checkpoint's seed: the same numbers */
	run(&r, "eval linkpred %s/seed-1 --json", method);
	TU_CHECK_MSG(r.rc == 0, "rc %d: %s", r.rc, r.err);
	o = last_json(&r);
	TU_CHECK_MSG(o && num(o, "auc") == auc1, "%s vs %g", r.out, auc1);
	cJSON_Delete(o);
}

static void test_bad_data(void)
{
	struct res r;
	/* `data check` accepts unlabelled nodes (-1) of a graph */
	run(&r, "data check graph");
	TU_CHECK_MSG(r.rc == 0 && strstr(r.out, "check: ok") != NULL, "rc %d: %s", r.rc, r.err);
	char dir[128], file[160];
	/* a graph folder missing a required file: the loader names it */
	snprintf(dir, sizeof dir, "%s/broken", root);
	TU_CHECK(mkdir(dir, 0777) == 0);
	tiny_graph_write(dir);
	snprintf(file, sizeof file, "%s/y.npy", dir);
	TU_CHECK(remove(file) == 0);
	run(&r, "train dgi data=broken epochs=1");
	TU_CHECK_MSG(r.rc == 2 && strstr(r.err, "y.npy") != NULL, "rc %d: %s", r.rc, r.err);
	/* a graph method on vectors is refused with the batch kinds named */
	run(&r, "train gae data=synthetic epochs=1");
	TU_CHECK_MSG(r.rc == 2 && strstr(r.err, "graph") != NULL, "rc %d: %s", r.rc, r.err);
}

int main(void)
{
	snprintf(root, sizeof root, "/tmp/selfsup_graphcli_XXXXXX");
	if (!mkdtemp(root)) {
		perror("mkdtemp");
		return 1;
	}
	char dir[128];
	snprintf(dir, sizeof dir, "%s/graph", root);
	if (mkdir(dir, 0777) != 0) {
		perror("mkdir");
		return 1;
	}
	tiny_graph_write(dir);
	test_dgi();
	test_gae("gae");
	test_gae("vgae");
	test_bad_data();
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", root);
	return tu_finish("cli/graph_cli");
}
