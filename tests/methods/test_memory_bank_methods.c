/* The memory-bank methods (instdisc, cmc, pirl) on a tiny synthetic image set, through their
 * method callbacks as the driver calls them:
 *   - one InstDisc step against an independent computation: the embeddings are recovered from
 *     the bank update (v = 2 s v_new - v_old with ||v|| = 1), the noise indices redrawn from a
 *     copy of the context RNG, and the loss (NCE of Wu et al. eq. 5-7 with the stored Z, plus the
 *     proximal term of eq. 10) recomputed in double;
 *   - a few steps lower the loss;
 *   - two runs with one seed are bit-identical (losses, parameters, banks);
 *   - an interrupted run resumed from a checkpoint (sup_checkpoint_save / restore of the parts and
 *     the context RNG, as `selfsup train resume=` does) ends bit-identical to the uninterrupted
 *     one, and the restore brings back the bank and Z;
 *   - CMC's Lab split on 3-channel images and its concatenated representation. */
#define _POSIX_C_SOURCE 200809L

#include "selfsup/losses.h"
#include "selfsup/method.h"
#include "testutil.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern const struct sup_method sup_method_instdisc, sup_method_cmc, sup_method_pirl;

#define N_IMG 32
#define SZ    9

/* Four kinds of pattern (bars, columns, diagonal, centre blob) with per-image noise and shifts. */
static void tiny_images(float *x, int channels)
{
	struct sup_rng r = sup_rng_make(77, 0);
	for (int i = 0; i < N_IMG; i++) {
		int kind = i % 4, shift = (int)sup_rng_below(&r, 3);
		for (int ch = 0; ch < channels; ch++)
			for (int y = 0; y < SZ; y++)
				for (int xx = 0; xx < SZ; xx++) {
					int yy = (y + shift) % SZ, xs = (xx + shift) % SZ;
					int dy = yy - SZ / 2, dx = xs - SZ / 2;
					double v = kind == 0 ? (yy / 2) % 2 : kind == 1 ? (xs / 2) % 2
						 : kind == 2 ? abs(yy - xs) < 2 : dy * dy + dx * dx < SZ;
					v = 0.15 + 0.6 * v * (ch == 1 ? 0.5 : 1) + 0.2 * sup_rng_uniform(&r);
					/* Multiples of 1/255, as the driver's source gives them. */
					x[((i * channels + ch) * SZ + y) * SZ + xx] = (float)(round(v * 255) / 255);
				}
	}
}

struct run {
	const struct sup_method *m;
	struct sup_config *cfg;
	void *state;
	struct sup_ctx c;
	int channels;
	float x[N_IMG * 3 * SZ * SZ];
};

static struct sup_data_info tiny_info(int channels)
{
	return (struct sup_data_info){.name = "tiny", .modality = SUP_MODALITY_IMAGE, .n_examples = N_IMG,
				      .n_classes = 4, .channels = channels, .height = SZ, .width = SZ};
}

/* A run of m with the overrides kv (NULL-terminated "key", "value" pairs). */
static bool run_open(struct run *r, const struct sup_method *m, const char *const *kv, int channels, uint64_t init_seed)
{
	memset(r, 0, sizeof *r);
	r->m = m;
	r->channels = channels;
	char err[256] = "";
	const struct sup_cfg_key *schemas[2] = {sup_config_common_keys(), m->config};
	enum sup_status s = sup_config_new(&r->cfg, schemas, 2, err, sizeof err);
	for (int i = 0; s == SUP_OK && kv && kv[i]; i += 2)
		s = sup_config_set(r->cfg, kv[i], kv[i + 1], err, sizeof err);
	struct sup_data_info info = tiny_info(channels);
	struct sup_rng rng = sup_rng_make(init_seed, 1);
	if (s == SUP_OK)
		s = m->init(&r->state, r->cfg, &info, &rng, err, sizeof err);
	TU_CHECK_MSG(s == SUP_OK, "%s init: %s", m->name, err);
	tu_ctx(&r->c, 5);
	tiny_images(r->x, channels);
	return s == SUP_OK;
}

static void run_close(struct run *r)
{
	r->m->free(r->state);
	sup_config_free(r->cfg);
	sup_ctx_deinit(&r->c);
}

/* Step `step`: the examples (step * 5 + i) mod N for i < n, a new "epoch" each step so the views
 * change. Returns the loss (NAN on failure). */
static double run_step(struct run *r, int64_t step, int64_t n, struct sup_step_stats *st_out)
{
	struct sup_ctx *c = &r->c;
	int64_t per = (int64_t)r->channels * SZ * SZ;
	struct sup_method_batch b = {.kind = SUP_BATCH_IMAGES, .n_views = 1};
	b.views[0] = sup_tensor_new(c, SUP_F32, 4, (const int64_t[]){n, r->channels, SZ, SZ});
	b.index = sup_tensor_new(c, SUP_I64, 1, (const int64_t[]){n});
	for (int64_t i = 0; i < n; i++) {
		int64_t id = (step * 5 + i) % N_IMG;
		((int64_t *)b.index->data)[i] = id;
		memcpy((float *)b.views[0]->data + i * per, r->x + id * per, sizeof(float) * (size_t)per);
	}
	struct sup_step_info si = {.epoch = step, .step = step, .total_steps = 100, .lr = 0.05};
	struct sup_step_stats st = {0};
	enum sup_status s = r->m->train_step(r->state, c, &b, &si, &st);
	TU_CHECK_MSG(s == SUP_OK, "%s step %lld: %s", r->m->name, (long long)step, sup_ctx_error(c));
	sup_ctx_reset(c);
	if (st_out)
		*st_out = st;
	return s == SUP_OK ? st.loss : NAN;
}

static struct sup_model *run_model(struct run *r)
{
	struct sup_ckpt_part p[SUP_MAX_PARTS];
	TU_CHECK(r->m->parts(r->state, p, SUP_MAX_PARTS) == 1);
	return p[0].model;
}

static const float *find_buffer(struct sup_model *m, const char *name)
{
	int i = sup_model_find(m, name);
	TU_CHECK_MSG(i >= 0 && m->entries[i].kind == SUP_KIND_BUFFER, "buffer %s", name);
	return i >= 0 ? sup_model_tensor(m, i)->data : NULL;
}

/* ---- one InstDisc step against an independent computation ---- */

/* One InstDisc step against an independent computation of eq. 5-7 (loss "nce") or of the
 * softmax cross-entropy over [positive, noise] / tau (loss "softmax"), plus the proximal term. */
static void test_instdisc_step_values(const char *loss_kind)
{
	const bool softmax = strcmp(loss_kind, "softmax") == 0;
	const char *const kv[] = {"nce.negatives", "20", "nce.prox", "30", "nce.loss", loss_kind, NULL};
	struct run r;
	if (!run_open(&r, &sup_method_instdisc, kv, 1, 3))
		return;
	run_step(&r, 0, 24, NULL); /* a first step sets Z and moves the bank */
	struct sup_model *m = run_model(&r);
	const float *bank = find_buffer(m, "bank.memory");
	enum { D = 128, B = 24, M = 20 };
	static float old[N_IMG * D];
	memcpy(old, bank, sizeof old);
	struct sup_rng rng_before = r.c.rng;
	struct sup_step_stats st;
	double loss = run_step(&r, 1, B, &st);
	double z = find_buffer(m, "nce.z")[0], tau = 0.07;
	/* The noise indices: the step's first draw from the context RNG. */
	int64_t noise[M];
	for (int j = 0; j < M; j++)
		noise[j] = (int64_t)sup_rng_below(&rng_before, N_IMG);
	double total = 0, prox = 0, k = (double)M / N_IMG, untouched = 0;
	for (int b = 0; b < B; b++) {
		int64_t id = (5 + b) % N_IMG;
		const float *vn = bank + id * D, *vo = old + id * D;
		/* vn = (vo + v) / ||vo + v|| (momentum 0.5): v = 2 s vn - vo with s > 0 and ||v|| = 1. */
		double dot = 0, oo = 0;
		for (int d = 0; d < D; d++) {
			dot += (double)vn[d] * vo[d];
			oo += (double)vo[d] * vo[d];
		}
		double s = (4 * dot + sqrt(16 * dot * dot - 16 * (oo - 1))) / 8, v[D], sp = 0;
		for (int d = 0; d < D; d++) {
			v[d] = 2 * s * vn[d] - vo[d];
			sp += v[d] * vo[d];
			prox += (v[d] - vo[d]) * (v[d] - vo[d]);
		}
		double sum_exp = exp(sp / tau);
		if (!softmax)
			total += -log(exp(sp / tau) / z / (exp(sp / tau) / z + k));
		for (int j = 0; j < M; j++) {
			double sn = 0;
			for (int d = 0; d < D; d++)
				sn += v[d] * old[noise[j] * D + d];
			sum_exp += exp(sn / tau);
			if (!softmax)
				total += -log(k / (exp(sn / tau) / z + k));
		}
		if (softmax)
			total += log(sum_exp) - sp / tau;
	}
	for (int i = 0; i < N_IMG; i++) {
		bool in_batch = ((i - 5 + N_IMG) % N_IMG) < B;
		for (int d = 0; !in_batch && d < D; d++)
			untouched = fmax(untouched, fabs(bank[i * D + d] - old[i * D + d]));
	}
	double nce = total / B, want = nce + 30 * prox / B;
	TU_CHECK_MSG(fabs(st.values[0] - nce) <= 2e-3 * fabs(nce), "%s %.8g vs independent %.8g", loss_kind, st.values[0],
		     nce);
	TU_CHECK_MSG(fabs(loss - want) <= 2e-3 * fabs(want), "%s: loss %.8g vs independent %.8g", loss_kind, loss, want);
	TU_CHECK_MSG(softmax == (z == 0), "%s: Z %g (the softmax loss has none)", loss_kind, z);
	TU_CHECK(untouched == 0);
	run_close(&r);
}

/* ---- loss decreases, determinism, resume ---- */

struct case_ {
	const struct sup_method *m;
	const char *const *kv, *const *kv_decrease;
	const char *label;
};

static const char *const kv_instdisc[] = {"nce.negatives", "16", NULL};
static const char *const kv_instdisc_mlp[] = {"nce.negatives", "16", "head", "mlp", "nce.loss", "softmax", NULL};
static const char *const kd_instdisc_mlp[] = {"nce.negatives", "256", "bank.momentum", "0.99", "augment", "false",
					      "head", "mlp", "nce.loss", "softmax", NULL};
static const char *const kv_cmc[] = {"contrast", "nce", "nce.negatives", "16", NULL};
static const char *const kv_cmc_infonce[] = {"contrast", "infonce", NULL};
static const char *const kv_pirl[] = {"nce.negatives", "16", "jigsaw.perms", "10", NULL};
static const char *const kv_pirl_softmax[] = {"nce.negatives", "16", "jigsaw.perms", "10", "nce.loss", "softmax", NULL};
/* Loss-decrease runs: targets held nearly still (see test_loss_decreases). */
static const char *const kd_instdisc[] = {"nce.negatives", "256", "bank.momentum", "0.99", "augment", "false", NULL};
static const char *const kd_cmc[] = {"contrast", "nce", "nce.negatives", "256", "bank.momentum", "0.99", "augment", "false", NULL};
static const char *const kd_pirl[] = {"nce.negatives", "256", "jigsaw.perms", "10", "bank.momentum", "0.99", "augment", "false", NULL};
static const char *const kd_pirl_softmax[] = {"nce.negatives", "256", "jigsaw.perms", "10", "bank.momentum", "0.99",
					      "augment", "false", "nce.loss", "softmax", NULL};

/* The memory-bank NCE's value is not monotone while the bank fills: its rows start random and are
 * replaced by embeddings, which raises the negatives' similarities. With the targets held nearly
 * still (bank.momentum 0.99), the objective is a fixed function of the weights up to the views and
 * noise draws, and a few steps of the method must lower it. (CMC's in-batch InfoNCE has no bank.) */
static void test_loss_decreases(const struct case_ *k)
{
	struct run r;
	if (!run_open(&r, k->m, k->kv_decrease, 1, 1))
		return;
	enum { STEPS = 16 };
	double l[STEPS];
	for (int i = 0; i < STEPS; i++) {
		l[i] = run_step(&r, i, N_IMG, NULL);
		if (getenv("MB_VERBOSE"))
			fprintf(stderr, "%s step %d loss %.5g\n", k->label, i, l[i]);
	}
	double first = (l[0] + l[1] + l[2]) / 3, last = (l[STEPS - 3] + l[STEPS - 2] + l[STEPS - 1]) / 3;
	TU_CHECK_MSG(isfinite(last) && last < 0.95 * first, "%s: loss %.5g (steps 0-2) -> %.5g (last 3)", k->label, first,
		     last);
	run_close(&r);
}

static bool same_model(struct sup_model *a, struct sup_model *b)
{
	return a->n_params == b->n_params && a->n_buffers == b->n_buffers &&
	       memcmp(a->params, b->params, sizeof(float) * (size_t)a->n_params) == 0 &&
	       memcmp(a->buffers, b->buffers, sizeof(float) * (size_t)a->n_buffers) == 0;
}

static void test_determinism(const struct case_ *k)
{
	struct run a, b;
	if (!run_open(&a, k->m, k->kv, 1, 4) || !run_open(&b, k->m, k->kv, 1, 4))
		return;
	bool same = true;
	for (int i = 0; i < 3; i++)
		same = same && run_step(&a, i, 16, NULL) == run_step(&b, i, 16, NULL);
	TU_CHECK_MSG(same && same_model(run_model(&a), run_model(&b)), "%s: runs differ", k->label);
	run_close(&a);
	run_close(&b);
}

static void test_resume(const struct case_ *k)
{
	enum { FIRST = 3, SECOND = 3 };
	char path[] = "/tmp/selfsup_mb_resumeXXXXXX";
	int fd = mkstemp(path);
	TU_CHECK(fd >= 0);
	if (fd >= 0)
		close(fd);
	struct run full, part;
	if (!run_open(&full, k->m, k->kv, 1, 6) || !run_open(&part, k->m, k->kv, 1, 6))
		return;
	double lf[FIRST + SECOND], lr[SECOND];
	for (int i = 0; i < FIRST + SECOND; i++)
		lf[i] = run_step(&full, i, 16, NULL);
	for (int i = 0; i < FIRST; i++)
		run_step(&part, i, 16, NULL);
	char err[256] = "";
	struct sup_ckpt_part parts[SUP_MAX_PARTS];
	int np = part.m->parts(part.state, parts, SUP_MAX_PARTS);
	char *yaml = sup_config_to_yaml(part.cfg);
	struct sup_ckpt_meta meta = {.method = part.m->name, .config_yaml = yaml, .data = "tiny", .epoch = 0,
				     .step = FIRST, .epoch_step = FIRST, .rng = part.c.rng};
	TU_CHECK_MSG(sup_checkpoint_save(path, parts, np, &meta, err, sizeof err) == SUP_OK, "%s", err);
	free(yaml);
	/* The buffers (banks, Z, batch-norm statistics) as saved. */
	struct sup_model *pm = run_model(&part);
	size_t nb = sizeof(float) * (size_t)pm->n_buffers;
	float *saved = malloc(nb);
	if (saved)
		memcpy(saved, pm->buffers, nb);
	run_close(&part);

	/* A fresh process: other initial weights, then the checkpoint. */
	struct run res;
	if (!run_open(&res, k->m, k->kv, 1, 99))
		return;
	struct sup_safetensors *st = NULL;
	struct sup_ckpt_meta rm;
	enum sup_status s = sup_checkpoint_open(&st, &rm, path, err, sizeof err);
	if (s == SUP_OK) {
		np = res.m->parts(res.state, parts, SUP_MAX_PARTS);
		s = sup_checkpoint_restore(st, parts, np, true, err, sizeof err);
		res.c.rng = rm.rng;
	}
	TU_CHECK_MSG(s == SUP_OK, "%s resume: %s", k->label, err);
	struct sup_model *rmod = run_model(&res);
	TU_CHECK_MSG(saved && sizeof(float) * (size_t)rmod->n_buffers == nb && memcmp(rmod->buffers, saved, nb) == 0,
		     "%s: the restored banks differ from the saved ones", k->label);
	free(saved);
	for (int i = 0; i < SECOND; i++)
		lr[i] = run_step(&res, FIRST + i, 16, NULL);
	bool same = true;
	for (int i = 0; i < SECOND; i++)
		same = same && lr[i] == lf[FIRST + i];
	TU_CHECK_MSG(same && same_model(rmod, run_model(&full)), "%s: resumed run differs (loss %.9g vs %.9g)",
		     k->label, lr[SECOND - 1], lf[FIRST + SECOND - 1]);
	sup_safetensors_free(st);
	run_close(&res);
	run_close(&full);
	unlink(path);
}

/* ---- CMC on colour images: L and ab ---- */

static void test_cmc_lab(void)
{
	static const char *const kv[] = {"nce.negatives", "16", NULL};
	struct run r;
	if (!run_open(&r, &sup_method_cmc, kv, 3, 2))
		return;
	struct sup_model *m = run_model(&r);
	int w_l = sup_model_find(m, "encoder_l.0.weight"), w_ab = sup_model_find(m, "encoder_ab.0.weight");
	TU_CHECK(w_l >= 0 && w_ab >= 0);
	if (w_l >= 0 && w_ab >= 0) { /* the L encoder takes 1 channel, the ab encoder 2 */
		TU_CHECK(sup_model_tensor(m, w_l)->shape[1] == 1 && sup_model_tensor(m, w_ab)->shape[1] == 2);
	}
	for (int i = 0; i < 3; i++)
		TU_CHECK(isfinite(run_step(&r, i, 16, NULL)));
	struct sup_method_batch b = {.kind = SUP_BATCH_IMAGES, .n_views = 1};
	b.views[0] = sup_tensor_wrap(&r.c, SUP_F32, 4, (const int64_t[]){4, 3, SZ, SZ}, r.x);
	struct sup_tensor *h = r.m->encode(r.state, &r.c, &b);
	TU_CHECK_MSG(h && h->ndim == 2 && h->shape[0] == 4 && h->shape[1] == 256, "cmc encode: %s", sup_ctx_error(&r.c));
	sup_ctx_reset(&r.c);
	run_close(&r);

	/* views=lab on a grayscale set is refused with a message. */
	struct sup_config *cfg = NULL;
	char err[256] = "";
	const struct sup_cfg_key *schemas[2] = {sup_config_common_keys(), sup_method_cmc.config};
	sup_config_new(&cfg, schemas, 2, err, sizeof err);
	sup_config_set(cfg, "views", "lab", err, sizeof err);
	struct sup_data_info info = tiny_info(1);
	struct sup_rng rng = sup_rng_make(0, 1);
	void *state = NULL;
	TU_CHECK(sup_method_cmc.init(&state, cfg, &info, &rng, err, sizeof err) == SUP_ERR_ARG && strstr(err, "3-channel"));
	sup_config_free(cfg);
}

/* A negative nce.z_epochs is refused by each method with a message naming the key. */
static void test_bad_z_epochs(const struct sup_method *m)
{
	struct sup_config *cfg = NULL;
	char err[256] = "";
	const struct sup_cfg_key *schemas[2] = {sup_config_common_keys(), m->config};
	TU_CHECK(sup_config_new(&cfg, schemas, 2, err, sizeof err) == SUP_OK &&
		 sup_config_set(cfg, "nce.z_epochs", "-1", err, sizeof err) == SUP_OK);
	struct sup_data_info info = tiny_info(1);
	struct sup_rng rng = sup_rng_make(0, 1);
	void *state = NULL;
	TU_CHECK_MSG(m->init(&state, cfg, &info, &rng, err, sizeof err) == SUP_ERR_ARG && strstr(err, "nce.z_epochs"),
		     "%s: %s", m->name, err);
	sup_config_free(cfg);
}

/* nce.z_epochs: Z is estimated afresh at every step of the first z_epochs epochs (run_step's
 * step k is in epoch k), then held. */
static void test_z_epochs(const struct sup_method *m, const char *const *kv, const char *z_name)
{
	struct run r;
	if (!run_open(&r, m, kv, 1, 5))
		return;
	double z[3];
	for (int i = 0; i < 3; i++) {
		run_step(&r, i, 16, NULL);
		const float *zb = find_buffer(run_model(&r), z_name);
		z[i] = zb ? zb[0] : NAN;
	}
	TU_CHECK_MSG(z[0] > 0 && z[1] > 0 && z[1] != z[0] && z[2] == z[1], "%s: Z %g, %g, %g", m->name, z[0], z[1], z[2]);
	run_close(&r);
}

/* head=mlp: linear-ReLU-linear named as PyTorch's Sequential (head.0, head.2), hidden width =
 * the backbone's; head=linear keeps the paper's single layer (head.weight). */
static void test_head_names(void)
{
	static const char *const kv_mlp[] = {"head", "mlp", NULL};
	struct run r;
	if (!run_open(&r, &sup_method_instdisc, kv_mlp, 1, 1))
		return;
	struct sup_model *m = run_model(&r);
	int w0 = sup_model_find(m, "head.0.weight"), w2 = sup_model_find(m, "head.2.weight");
	TU_CHECK(w0 >= 0 && w2 >= 0 && sup_model_find(m, "head.weight") < 0);
	if (w0 >= 0 && w2 >= 0) {
		const struct sup_tensor *a = sup_model_tensor(m, w0), *b = sup_model_tensor(m, w2);
		TU_CHECK(a->shape[0] == a->shape[1] && b->shape[0] == 128 && b->shape[1] == a->shape[0]);
	}
	run_close(&r);
	if (!run_open(&r, &sup_method_instdisc, NULL, 1, 1))
		return;
	TU_CHECK(sup_model_find(run_model(&r), "head.weight") >= 0 && sup_model_find(run_model(&r), "head.0.weight") < 0);
	run_close(&r);
}

int main(void)
{
	test_head_names();
	test_bad_z_epochs(&sup_method_instdisc);
	test_bad_z_epochs(&sup_method_cmc);
	test_bad_z_epochs(&sup_method_pirl);
	test_instdisc_step_values("nce");
	test_instdisc_step_values("softmax");
	static const char *const kz_instdisc[] = {"nce.negatives", "16", "nce.z_epochs", "2", NULL};
	static const char *const kz_pirl[] = {"nce.negatives", "16", "jigsaw.perms", "10", "nce.z_epochs", "2", NULL};
	test_z_epochs(&sup_method_instdisc, kz_instdisc, "nce.z");
	static const char *const kz_cmc[] = {"contrast", "nce", "nce.negatives", "16", "nce.z_epochs", "2", NULL};
	test_z_epochs(&sup_method_cmc, kz_cmc, "nce_l.z");
	test_z_epochs(&sup_method_pirl, kz_pirl, "nce_g.z");
	const struct case_ cases[] = {
	    {&sup_method_instdisc, kv_instdisc, kd_instdisc, "instdisc"},
	    {&sup_method_instdisc, kv_instdisc_mlp, kd_instdisc_mlp, "instdisc (mlp head, softmax)"},
	    {&sup_method_cmc, kv_cmc, kd_cmc, "cmc (nce)"},
	    {&sup_method_cmc, kv_cmc_infonce, kv_cmc_infonce, "cmc (infonce)"},
	    {&sup_method_pirl, kv_pirl, kd_pirl, "pirl"},
	    {&sup_method_pirl, kv_pirl_softmax, kd_pirl_softmax, "pirl (softmax)"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		test_loss_decreases(&cases[i]);
		test_determinism(&cases[i]);
		test_resume(&cases[i]);
	}
	test_cmc_lab();
	return tu_finish("methods/memory_bank");
}
