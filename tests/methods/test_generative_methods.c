/* The generative image methods (issue 9): the VAE's negative ELBO against an independent
 * computation, the autoregressive property of MADE and PixelCNN (the output for dimension d does
 * not move when inputs at or after d in the ordering change), the VQ straight-through gradient,
 * sampling determinism under a seed, the loss going down over a few steps, and the
 * independent-pixel baseline against a hand-computed value, the auto-encoders' reconstruct
 * callback, and the PNG grids a short `selfsup train` leaves in the run folder. Tiny images:
 * seconds. */
#define _POSIX_C_SOURCE 200809L

#include "methods/genimg.h"
#include "selfsup/run.h"
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct made_up {
	const struct sup_method *m;
	struct sup_config *cfg;
	void *state;
};

/* Method `name` on grayscale side x side images with key=value overrides (NULL-terminated). */
static bool make(struct made_up *u, const char *name, int side, const char *const *kv)
{
	char err[512] = "";
	memset(u, 0, sizeof *u);
	u->m = sup_method_find(name);
	TU_CHECK_MSG(u->m != NULL, "method %s not registered", name);
	if (!u->m)
		return false;
	const struct sup_cfg_key *schemas[2] = {sup_config_common_keys(), u->m->config};
	if (sup_config_new(&u->cfg, schemas, 2, err, sizeof err) != SUP_OK) {
		TU_CHECK_MSG(false, "%s", err);
		return false;
	}
	for (int i = 0; kv && kv[i]; i++)
		TU_CHECK_MSG(sup_config_override(u->cfg, kv[i], err, sizeof err) == SUP_OK, "%s", err);
	struct sup_data_info info = {.name = "tiny", .modality = SUP_MODALITY_IMAGE, .n_examples = 8, .n_classes = 2,
				     .channels = 1, .height = side, .width = side};
	struct sup_rng r = sup_rng_make(3, 1);
	enum sup_status s = u->m->init(&u->state, u->cfg, &info, &r, err, sizeof err);
	TU_CHECK_MSG(s == SUP_OK, "%s init: %s", name, err);
	return s == SUP_OK;
}

static void unmake(struct made_up *u)
{
	if (u->m && u->state)
		u->m->free(u->state);
	sup_config_free(u->cfg);
}

static struct sup_model *model_of(struct made_up *u)
{
	struct sup_ckpt_part p[SUP_MAX_PARTS];
	return u->m->parts(u->state, p, SUP_MAX_PARTS) > 0 ? p[0].model : NULL;
}

/* n binary images [n, 1, side, side] drawn from stream k. */
static struct sup_tensor *binary_images(struct sup_ctx *c, int64_t n, int side, uint64_t k)
{
	struct sup_tensor *x = sup_tensor_new(c, SUP_F32, 4, (const int64_t[]){n, 1, side, side});
	struct sup_rng r = sup_rng_make(11, k);
	for (int64_t i = 0; i < sup_tensor_numel(x); i++)
		sup_tensor_set(x, i, sup_rng_uniform(&r) < 0.4 ? 1.0 : 0.0);
	return x;
}

static double softplus(double v)
{
	return v > 0 ? v + log1p(exp(-v)) : log1p(exp(v));
}

/* ---- VAE: -ELBO = sum_d BCE + KL against a plain-C computation with set weights ------------- */
static double param(struct sup_model *m, const char *name, int64_t i)
{
	int k = sup_model_find(m, name);
	TU_CHECK_MSG(k >= 0, "no tensor %s", name);
	return k >= 0 ? sup_tensor_get(sup_model_tensor(m, k), i) : NAN;
}

static void test_vae_elbo(void)
{
	struct made_up u;
	if (!make(&u, "vae", 2, (const char *const[]){"hidden=2", "latent=1", NULL}))
		return unmake(&u);
	struct sup_model *m = model_of(&u);
	/* Every parameter set to a fixed pattern so that the value below is reproducible by hand. */
	for (int e = 0; e < m->n_entries; e++) {
		struct sup_tensor *t = sup_model_tensor(m, e);
		for (int64_t i = 0; i < sup_tensor_numel(t); i++)
			sup_tensor_set(t, i, 0.1 * (double)((e * 5 + i * 3) % 7) - 0.3);
	}
	struct sup_ctx c;
	tu_ctx(&c, 0);
	const double xv[4] = {1, 0, 1, 1}, epsv = 0.7;
	struct sup_tensor *x = sup_tensor_new(&c, SUP_F32, 4, (const int64_t[]){1, 1, 2, 2});
	struct sup_tensor *eps = sup_tensor_full(&c, SUP_F32, 2, (const int64_t[]){1, 1}, epsv);
	for (int i = 0; i < 4; i++)
		sup_tensor_set(x, i, xv[i]);
	struct sup_tensor *ne = genimg_vae_neg_elbo(u.state, &c, x, eps);
	TU_CHECK_MSG(ne && ne->ndim == 1 && ne->shape[0] == 1, "%s", sup_ctx_error(&c));
	/* By hand: h = relu(W1 x + b1); mu, logvar; z = mu + exp(logvar / 2) eps; decoder; BCE + KL. */
	double h[2], mu = param(m, "encoder.fc_mu.bias", 0), lv = param(m, "encoder.fc_logvar.bias", 0);
	for (int j = 0; j < 2; j++) {
		h[j] = param(m, "encoder.fc1.bias", j);
		for (int i = 0; i < 4; i++)
			h[j] += param(m, "encoder.fc1.weight", j * 4 + i) * xv[i];
		h[j] = h[j] > 0 ? h[j] : 0;
		mu += param(m, "encoder.fc_mu.weight", j) * h[j];
		lv += param(m, "encoder.fc_logvar.weight", j) * h[j];
	}
	double z = mu + exp(lv / 2) * epsv, g[2], want = -0.5 * (1 + lv - mu * mu - exp(lv));
	for (int j = 0; j < 2; j++) {
		g[j] = param(m, "decoder.fc1.weight", j) * z + param(m, "decoder.fc1.bias", j);
		g[j] = g[j] > 0 ? g[j] : 0;
	}
	for (int i = 0; i < 4; i++) {
		double l = param(m, "decoder.fc2.bias", i);
		for (int j = 0; j < 2; j++)
			l += param(m, "decoder.fc2.weight", i * 2 + j) * g[j];
		want += softplus(l) - xv[i] * l;
	}
	if (ne)
		TU_CHECK_NEAR(sup_tensor_get(ne, 0), want, 1e-5);
	sup_ctx_deinit(&c);
	unmake(&u);
}

/* ---- autoregressive property -------------------------------------------------------------- */
static void test_made_autoregressive(void)
{
	struct made_up u;
	if (!make(&u, "made", 4, (const char *const[]){"hidden=24", "layers=2", "n_masks=3", NULL}))
		return unmake(&u);
	struct sup_ctx c;
	tu_ctx(&c, 0);
	const int64_t D = 16;
	int moved = 0;
	for (int64_t k = 0; k < 3; k++) {
		struct sup_tensor *x = binary_images(&c, 2, 4, 1);
		struct sup_tensor *l0 = sup_tensor_clone(&c, genimg_made_logits(u.state, &c, x, k));
		for (int64_t d = 0; d < D && l0; d++) {
			const int64_t deg = genimg_made_degree(u.state, d);
			struct sup_tensor *x2 = sup_tensor_clone(&c, x), *x3 = sup_tensor_clone(&c, x);
			for (int64_t e = 0; e < D; e++) {
				bool late = genimg_made_degree(u.state, e) >= deg;
				for (int64_t b = 0; b < 2; b++) {
					double v = sup_tensor_get(x, b * D + e);
					sup_tensor_set(late ? x2 : x3, b * D + e, 1.0 - v);
				}
			}
			struct sup_tensor *l2 = genimg_made_logits(u.state, &c, x2, k);
			struct sup_tensor *l3 = genimg_made_logits(u.state, &c, x3, k);
			for (int64_t b = 0; l2 && b < 2; b++) {
				TU_CHECK_NEAR(sup_tensor_get(l2, b * D + d), sup_tensor_get(l0, b * D + d), 1e-6);
				moved += fabs(sup_tensor_get(l3, b * D + d) - sup_tensor_get(l0, b * D + d)) > 1e-6;
			}
		}
		TU_CHECK(genimg_made_degree(u.state, 0) >= 1 && genimg_made_degree(u.state, 0) <= D);
	}
	TU_CHECK_MSG(moved > 0, "no output depends on earlier inputs: the check above could not fail");
	TU_CHECK(c.err == SUP_OK);
	sup_ctx_deinit(&c);
	unmake(&u);
}

static void check_pixelcnn_ar(const char *const *kv, int64_t n_out)
{
	struct made_up u;
	if (!make(&u, "pixelcnn", 5, kv))
		return unmake(&u);
	struct sup_ctx c;
	tu_ctx(&c, 0);
	const int64_t P = 25;
	struct sup_tensor *x = binary_images(&c, 1, 5, 2);
	struct sup_tensor *l0 = sup_tensor_clone(&c, genimg_pixelcnn_logits(u.state, &c, x));
	TU_CHECK_MSG(l0 && l0->shape[1] == n_out, "%s", sup_ctx_error(&c));
	int moved = 0;
	for (int64_t p = 0; p < P && l0; p++) {
		struct sup_tensor *x2 = sup_tensor_clone(&c, x), *x3 = sup_tensor_clone(&c, x);
		for (int64_t q = 0; q < P; q++)
			sup_tensor_set(q >= p ? x2 : x3, q, 0.5 + 0.37 * (double)((q * 7) % 3) - sup_tensor_get(x, q) * 0.4);
		struct sup_tensor *l2 = genimg_pixelcnn_logits(u.state, &c, x2);
		struct sup_tensor *l3 = genimg_pixelcnn_logits(u.state, &c, x3);
		double worst = 0;
		for (int64_t o = 0; l2 && o < n_out; o++) {
			worst = fmax(worst, fabs(sup_tensor_get(l2, o * P + p) - sup_tensor_get(l0, o * P + p)));
			moved += p > 0 && fabs(sup_tensor_get(l3, o * P + p) - sup_tensor_get(l0, o * P + p)) > 1e-6;
		}
		TU_CHECK_MSG(worst < 1e-5, "pixel %lld moved by %g when pixels >= it changed", (long long)p, worst);
	}
	TU_CHECK_MSG(moved > 0, "no output depends on earlier pixels: the check above could not fail");
	sup_ctx_deinit(&c);
	unmake(&u);
}

static void test_pixelcnn_autoregressive(void)
{
	check_pixelcnn_ar((const char *const[]){"channels=4", "blocks=2", "gated=false", NULL}, 1);
	check_pixelcnn_ar((const char *const[]){"channels=4", "blocks=2", "gated=true", NULL}, 1);
	check_pixelcnn_ar((const char *const[]){"channels=3", "blocks=1", "output=softmax256", NULL}, 256);
}

/* ---- VQ straight-through: d sum(r * z_q) / d z_e = r exactly -------------------------------- */
static void test_vq_straight_through(void)
{
	struct sup_model m;
	struct sup_vq vq;
	struct sup_rng r = sup_rng_make(5, 0);
	sup_model_init(&m, sup_allocator_default());
	TU_CHECK(sup_vq_declare(&vq, &m, "vq", 4, 3, false) == 0 && sup_model_build(&m, &r) == SUP_OK);
	struct sup_ctx c;
	tu_ctx(&c, 0);
	struct sup_tensor *z = sup_tensor_new(&c, SUP_F32, 3, (const int64_t[]){2, 5, 3});
	struct sup_tensor *w = sup_tensor_new(&c, SUP_F32, 3, (const int64_t[]){2, 5, 3});
	sup_tensor_fill_uniform(z, &r, -0.5, 0.5);
	sup_tensor_fill_uniform(w, &r, -1, 1);
	z->requires_grad = true;
	struct sup_vq_out q;
	TU_CHECK(sup_vq_forward(&c, &m, &vq, z, &q) == SUP_OK);
	struct sup_tensor *loss = sup_sum(&c, sup_mul(&c, q.quantized, w), NULL, 0, false);
	TU_CHECK(loss && sup_backward(&c, loss) == SUP_OK);
	double worst = 0, moved = 0;
	for (int64_t i = 0; i < 30; i++) {
		worst = fmax(worst, fabs(sup_tensor_grad_get(z, i) - sup_tensor_get(w, i)));
		moved = fmax(moved, fabs(sup_tensor_get(q.quantized, i) - sup_tensor_get(z, i)));
	}
	TU_CHECK_MSG(worst < 1e-6, "straight-through gradient off by %g", worst);
	TU_CHECK_MSG(moved > 1e-3, "z_q == z_e: nothing was quantised");
	sup_ctx_deinit(&c);
	sup_model_deinit(&m);
}

/* ---- sampling determinism ------------------------------------------------------------------ */
static void check_sampling(const char *name, int side, const char *const *kv, bool check_diff)
{
	struct made_up u;
	if (!make(&u, name, side, kv))
		return unmake(&u);
	struct sup_ctx c1, c2, c3;
	tu_ctx(&c1, 7);
	tu_ctx(&c2, 7);
	tu_ctx(&c3, 8);
	struct sup_tensor *a = u.m->sample(u.state, &c1, 3, NULL), *b = u.m->sample(u.state, &c2, 3, NULL);
	struct sup_tensor *d = u.m->sample(u.state, &c3, 3, NULL);
	TU_CHECK_MSG(a && b && d && a->ndim == 4 && a->shape[0] == 3 && a->shape[2] == side, "%s: %s", name,
		     sup_ctx_error(&c1));
	if (a && b && d) {
		TU_CHECK_MSG(tu_max_abs_diff(a, b) == 0, "%s: same seed, different samples", name);
		if (check_diff)
			TU_CHECK_MSG(tu_max_abs_diff(a, d) > 0, "%s: different seeds, same samples", name);
		for (int64_t i = 0; i < sup_tensor_numel(a); i++)
			TU_CHECK(sup_tensor_get(a, i) >= 0 && sup_tensor_get(a, i) <= 1);
	}
	sup_ctx_deinit(&c1);
	sup_ctx_deinit(&c2);
	sup_ctx_deinit(&c3);
	unmake(&u);
}

static void test_sampling(void)
{
	check_sampling("vae", 4, (const char *const[]){"hidden=8", "latent=2", NULL}, true);
	check_sampling("made", 4, (const char *const[]){"hidden=16", NULL}, true);
	check_sampling("pixelcnn", 4, (const char *const[]){"channels=4", "blocks=1", NULL}, true);
	check_sampling("pixelcnn", 4, (const char *const[]){"channels=4", "blocks=1", "output=softmax256", NULL}, true);
	check_sampling("vqvae", 8, (const char *const[]){"hidden=16", "codebook_size=8", "code_dim=2", "recon=bce", NULL},
		       true);
}

/* ---- a few steps on one batch lower the loss ---------------------------------------------- */
static void check_descent(const char *name, const char *const *kv, bool density)
{
	struct made_up u;
	if (!make(&u, name, 8, kv))
		return unmake(&u);
	struct sup_ctx c;
	tu_ctx(&c, 1);
	double first = NAN, last = NAN;
	for (int s = 0; s < 25; s++) {
		struct sup_method_batch b = {.kind = SUP_BATCH_IMAGES, .n_views = 1};
		b.views[0] = binary_images(&c, 8, 8, 3);
		struct sup_step_info si = {0, s, 25, 3e-3};
		struct sup_step_stats st = {0};
		enum sup_status rs = u.m->train_step(u.state, &c, &b, &si, &st);
		TU_CHECK_MSG(rs == SUP_OK, "%s step %d: %s", name, s, sup_ctx_error(&c));
		if (rs != SUP_OK)
			break;
		first = s == 0 ? st.loss : first;
		last = st.loss;
		sup_ctx_reset(&c);
	}
	TU_CHECK_MSG(last < first, "%s: loss %g -> %g", name, first, last);
	/* The density models' nll callback agrees with the batch it is given. */
	if (u.m->nll && density) {
		struct sup_method_batch b = {.kind = SUP_BATCH_IMAGES, .n_views = 1};
		b.views[0] = binary_images(&c, 4, 8, 4);
		double nats = NAN, dims = 0;
		TU_CHECK_MSG(u.m->nll(u.state, &c, &b, &nats, &dims) == SUP_OK, "%s nll: %s", name, sup_ctx_error(&c));
		TU_CHECK_MSG(isfinite(nats) && nats > 0 && dims == 4 * 64, "%s: nll %g over %g dims", name, nats, dims);
	}
	if (u.m->nll && !density) { /* a clean error, not a number */
		struct sup_method_batch b = {.kind = SUP_BATCH_IMAGES, .n_views = 1};
		b.views[0] = binary_images(&c, 4, 8, 4);
		double nats = NAN, dims = 0;
		TU_CHECK(u.m->nll(u.state, &c, &b, &nats, &dims) != SUP_OK && sup_ctx_error(&c)[0]);
		sup_ctx_reset(&c);
	}
	sup_ctx_deinit(&c);
	unmake(&u);
}

static void test_descent(void)
{
	check_descent("ae", (const char *const[]){"hidden=16", "code_dim=4", NULL}, false);
	check_descent("dae", (const char *const[]){"hidden=16", "code_dim=4", NULL}, true);
	check_descent("dae", (const char *const[]){"hidden=16", "code_dim=4", "corruption=gaussian", NULL}, true);
	check_descent("vae", (const char *const[]){"hidden=16", "latent=2", "iw_samples=3", NULL}, true);
	check_descent("made", (const char *const[]){"hidden=32", "n_masks=2", "test_masks=2", NULL}, true);
	check_descent("pixelcnn", (const char *const[]){"channels=4", "blocks=1", NULL}, true);
	check_descent("vqvae", (const char *const[]){"hidden=8", "codebook_size=8", "code_dim=2", "recon=bce", NULL}, true);
	check_descent("vqvae", (const char *const[]){"hidden=8", "codebook_size=8", "code_dim=2", "ema=true", NULL}, false);
}

/* ---- reconstruct: images of the input's shape in [0, 1], deterministic, no draws --------------- */
static void check_reconstruct(const char *name, const char *const *kv)
{
	struct made_up u;
	if (!make(&u, name, 8, kv))
		return unmake(&u);
	struct sup_ctx c;
	tu_ctx(&c, 2);
	struct sup_method_batch b = {.kind = SUP_BATCH_IMAGES, .n_views = 1};
	b.views[0] = binary_images(&c, 3, 8, 5);
	const struct sup_rng before = c.rng;
	struct sup_tensor *y = u.m->reconstruct ? u.m->reconstruct(u.state, &c, &b) : NULL;
	struct sup_tensor *y2 = y ? u.m->reconstruct(u.state, &c, &b) : NULL;
	TU_CHECK_MSG(y && y2, "%s reconstruct: %s", name, sup_ctx_error(&c));
	if (y && y2) {
		TU_CHECK_MSG(y->ndim == 4 && y->shape[0] == 3 && y->shape[1] == 1 && y->shape[2] == 8 && y->shape[3] == 8,
			     "%s: reconstructions of the wrong shape", name);
		for (int64_t i = 0; i < sup_tensor_numel(y); i++) {
			double v = sup_tensor_get(y, i);
			TU_CHECK_MSG(v >= 0 && v <= 1, "%s: reconstruction value %g outside [0, 1]", name, v);
		}
		TU_CHECK_MSG(tu_max_abs_diff(y, y2) == 0, "%s: reconstruct is not deterministic", name);
		TU_CHECK_MSG(c.rng.key == before.key && c.rng.counter == before.counter, "%s: reconstruct drew from rng",
			     name);
	}
	sup_ctx_deinit(&c);
	unmake(&u);
}

static void test_reconstruct(void)
{
	check_reconstruct("ae", (const char *const[]){"hidden=16", "code_dim=4", NULL});
	check_reconstruct("ae", (const char *const[]){"hidden=16", "code_dim=4", "loss=mse", NULL});
	check_reconstruct("dae", (const char *const[]){"hidden=16", "code_dim=4", NULL});
	check_reconstruct("vae", (const char *const[]){"hidden=16", "latent=2", NULL});
	check_reconstruct("vqvae", (const char *const[]){"hidden=8", "codebook_size=8", "code_dim=2", NULL});
	check_reconstruct("vqvae", (const char *const[]){"hidden=8", "codebook_size=8", "code_dim=2", "recon=bce", NULL});
	/* The density models have nothing to reconstruct. */
	TU_CHECK(sup_method_find("made")->reconstruct == NULL && sup_method_find("pixelcnn")->reconstruct == NULL);
}

/* ---- the run folder's PNG grids after `selfsup train` ------------------------------------------ */
/* dir/rel is a non-empty file that starts with the PNG signature. */
static bool is_png(const char *dir, const char *rel)
{
	static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
	char path[600];
	unsigned char head[8] = {0};
	snprintf(path, sizeof path, "%s/%s", dir, rel);
	FILE *f = fopen(path, "rb");
	bool ok = f && fread(head, 1, 8, f) == 8 && memcmp(head, sig, 8) == 0;
	if (f)
		fclose(f);
	return ok;
}

static bool exists(const char *dir, const char *rel)
{
	char path[600];
	struct stat sb;
	snprintf(path, sizeof path, "%s/%s", dir, rel);
	return stat(path, &sb) == 0;
}

static void test_train_grids(void)
{
	char dir[] = "/tmp/selfsup_generative_XXXXXX";
	TU_CHECK(mkdtemp(dir) != NULL);
	tu_write_idx(dir, "train-images-idx3-ubyte", 16, 8, true, 1);
	tu_write_idx(dir, "train-labels-idx1-ubyte", 16, 8, false, 0);
	tu_write_idx(dir, "t10k-images-idx3-ubyte", 8, 8, true, 2);
	tu_write_idx(dir, "t10k-labels-idx1-ubyte", 8, 8, false, 0);
	const char *common = "batch_size=8 steps=2 threads=1";
	char args[512];
	snprintf(args, sizeof args, "train ae data=. hidden=8 code_dim=2 %s out=ae", common);
	TU_CHECK(tu_sh(dir, SELFSUP_BIN, args) == 0);
	TU_CHECK_MSG(is_png(dir, "ae/reconstructions.png"), "ae: no reconstructions.png");
	TU_CHECK_MSG(!exists(dir, "ae/samples.png"), "ae cannot sample, yet samples.png exists");
	snprintf(args, sizeof args, "train vae data=binary:. hidden=8 latent=2 %s out=vae", common);
	TU_CHECK(tu_sh(dir, SELFSUP_BIN, args) == 0);
	TU_CHECK_MSG(is_png(dir, "vae/reconstructions.png") && is_png(dir, "vae/samples.png"), "vae: grids missing");
	/* A grid that cannot be written (a folder is in its place) fails the run with a message
	 * naming it, after the checkpoint. */
	char path[600], log[4096] = "";
	snprintf(path, sizeof path, "%s/bad", dir);
	TU_CHECK(mkdir(path, 0777) == 0);
	snprintf(path, sizeof path, "%s/bad/samples.png", dir);
	TU_CHECK(mkdir(path, 0777) == 0);
	snprintf(path, sizeof path, "%s/err.txt", dir);
	unlink(path); /* the log of this run only */
	snprintf(args, sizeof args, "train vae data=binary:. hidden=8 latent=2 %s out=bad", common);
	TU_CHECK(tu_sh(dir, SELFSUP_BIN, args) == 1);
	TU_CHECK(exists(dir, "bad/checkpoint.safetensors"));
	snprintf(path, sizeof path, "%s/err.txt", dir);
	FILE *f = fopen(path, "r");
	if (f) {
		log[fread(log, 1, sizeof log - 1, f)] = 0;
		fclose(f);
	}
	TU_CHECK_MSG(strstr(log, "samples.png") != NULL, "no message naming samples.png: %s", log);
	snprintf(args, sizeof args, "rm -rf '%s'", dir);
	TU_CHECK(system(args) == 0);
}

/* ---- the independent-pixel baseline ------------------------------------------------------- */
static void test_pixel_model(void)
{
	/* 2 pixels, Bernoulli; 4 training images: pixel 0 was 1 three times, pixel 1 once. */
	const float counts[4] = {1, 3, 3, 1}; /* [level][pixel] */
	const int64_t x[4] = {1, 0, 0, 0};
	/* add-one smoothing: p0(1) = 4/6, p1(0) = 4/6; p0(0) = 2/6. */
	double want = -(log(4.0 / 6) + log(4.0 / 6)) - (log(2.0 / 6) + log(4.0 / 6));
	TU_CHECK_NEAR(genimg_pixel_model_nll(counts, 2, 2, 4, 1.0, x, 2), want, 1e-12);
	TU_CHECK_NEAR(genimg_logmeanexp((const double[]){log(1.0), log(3.0)}, 2), log(2.0), 1e-12);
}

int main(void)
{
	test_vae_elbo();
	test_made_autoregressive();
	test_pixelcnn_autoregressive();
	test_vq_straight_through();
	test_sampling();
	test_descent();
	test_pixel_model();
	test_reconstruct();
	test_train_grids();
	return tu_finish("methods/generative");
}
