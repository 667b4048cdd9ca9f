/* Augmentations: hand-computed results of each operation, statistics over many draws (crop
 * boxes, flip rate, jitter factors), determinism across thread counts, jigsaw permutation sets,
 * patch pairs, the Lab round trip and transform validation. */
#include "testutil.h"
#include "selfsup/data.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

static void test_resize_and_crop_params(void)
{
	/* PyTorch: F.interpolate([[0, 1], [2, 3]], size=4, mode="bilinear", align_corners=False). */
	float in[4] = { 0, 1, 2, 3 }, out[16];
	const float want[16] = { 0, 0.25f, 0.75f, 1, 0.5f, 0.75f, 1.25f, 1.5f, 1.5f, 1.75f, 2.25f, 2.5f, 2, 2.25f, 2.75f, 3 };
	struct sup_image a = { in, 1, 2, 2 }, b = { out, 1, 4, 4 };
	sup_image_resize_box(&b, &a, 0, 0, 2, 2);
	int ok = 1;
	for (int i = 0; i < 16; i++)
		ok &= fabsf(out[i] - want[i]) < 1e-6f;
	TU_CHECK(ok);
	/* A box at the input's size is an exact copy of the box. */
	float big[30], sub[6];
	for (int i = 0; i < 30; i++)
		big[i] = (float)i;
	struct sup_image g = { big, 1, 5, 6 }, s = { sub, 1, 2, 3 };
	sup_image_resize_box(&s, &g, 2, 1, 2, 3);
	TU_CHECK(sub[0] == 13 && sub[2] == 15 && sub[3] == 19 && sub[5] == 21);

	/* Crop boxes over many draws: inside the image, area fraction and aspect in range (up to
	 * the rounding of the sides), spread over the range. */
	int n_low = 0, n_high = 0, n_ok = 0, n = 4000;
	double mean_frac = 0;
	for (int i = 0; i < n; i++) {
		struct sup_rng r = sup_rng_make(7, (uint64_t)i);
		int top, left, ch, cw;
		sup_aug_crop_params(&r, 224, 224, 0.08f, 1.0f, 0.75f, 4.0f / 3.0f, &top, &left, &ch, &cw);
		double frac = (double)ch * cw / (224.0 * 224.0), ratio = (double)cw / ch;
		n_ok += top >= 0 && left >= 0 && top + ch <= 224 && left + cw <= 224 && frac >= 0.075 && frac <= 1.0 &&
			ratio >= 0.74 && ratio <= 1.35;
		n_low += frac < 0.2;
		n_high += frac > 0.9;
		mean_frac += frac / n;
	}
	TU_CHECK_MSG(n_ok == n, "%d of %d boxes in range", n_ok, n);
	TU_CHECK_MSG(n_low > n / 20 && n_high > n / 50, "low %d high %d", n_low, n_high);
	/* Uniform area fraction on (0.08, 1) has mean 0.54; rejected draws near 1 lower it a bit. */
	TU_CHECK_MSG(mean_frac > 0.45 && mean_frac < 0.56, "mean area fraction %g", mean_frac);
	/* No draw can fit (aspect 3..4 of nearly the whole square): the centre-crop fallback with
	 * the aspect clamped to its minimum, as torchvision does. */
	struct sup_rng r = sup_rng_make(1, 2);
	int top, left, ch, cw;
	sup_aug_crop_params(&r, 30, 30, 0.99f, 1.0f, 3.0f, 4.0f, &top, &left, &ch, &cw);
	TU_CHECK(cw == 30 && ch == 10 && top == 10 && left == 0);
}

static void test_flip_rate(void)
{
	struct sup_transform t = { 0 };
	sup_transform_add(&t, sup_aug_hflip(0.3f));
	uint8_t in[2] = { 0, 255 };
	float out[2], scratch[6];
	int flipped = 0, n = 4000;
	for (int i = 0; i < n; i++) {
		struct sup_image o = { out, 0, 0, 0 };
		sup_transform_apply(&t, in, 1, 1, 2, &o, scratch, sup_aug_rng(3, 0, i, 0), 0);
		flipped += out[0] == 1.0f;
	}
	/* Binomial(4000, 0.3): sd 29; 5 sd either way. */
	TU_CHECK_MSG(abs(flipped - 1200) < 145, "flipped %d of %d", flipped, n);
}

static void test_jitter(void)
{
	struct sup_aug_step j = sup_aug_color_jitter(0.4f, 0.3f, 0.2f, 0.1f, 1);
	int orders_seen[4][4] = { { 0 } }, ok = 1, n = 3000;
	double mean_b = 0;
	for (int i = 0; i < n; i++) {
		struct sup_rng r = sup_rng_make(11, (uint64_t)i);
		struct sup_jitter_draw d;
		sup_aug_jitter_params(&r, &j, &d);
		ok &= d.brightness >= 0.6f && d.brightness <= 1.4f && d.contrast >= 0.7f && d.contrast <= 1.3f &&
		      d.saturation >= 0.8f && d.saturation <= 1.2f && d.hue >= -0.1f && d.hue <= 0.1f;
		int mask = 0;
		for (int k = 0; k < 4; k++) {
			mask |= 1 << d.order[k];
			orders_seen[k][d.order[k]]++;
		}
		ok &= mask == 15;
		mean_b += d.brightness / n;
	}
	TU_CHECK(ok);
	TU_CHECK_NEAR(mean_b, 1.0, 0.03);
	int spread = 1;
	for (int k = 0; k < 4; k++)
		for (int m = 0; m < 4; m++)
			spread &= orders_seen[k][m] > n / 4 - 120 && orders_seen[k][m] < n / 4 + 120;
	TU_CHECK(spread);
}

static void test_jitter_ops(void)
{
	/* Each adjustment by hand on one RGB pixel pair. */
	float px[6] = { 0.5f, 0.2f, 0.4f, 0.4f, 0.1f, 0.6f }; /* [3, 1, 2] */
	float v[6];
	struct sup_image img = { v, 3, 1, 2 };
	struct sup_jitter_draw d = { { 0, 1, 2, 3 }, 1.5f, 1, 1, 0 };
	memcpy(v, px, sizeof v);
	sup_image_color_jitter(&img, &d);
	TU_CHECK_NEAR(v[0], 0.75, 1e-6);
	TU_CHECK_NEAR(v[5], 0.9, 1e-6);
	d = (struct sup_jitter_draw){ { 1, 0, 2, 3 }, 1, 0.5f, 1, 0 };
	memcpy(v, px, sizeof v);
	sup_image_color_jitter(&img, &d);
	double g0 = 0.2989 * 0.5 + 0.587 * 0.4 + 0.114 * 0.1, g1 = 0.2989 * 0.2 + 0.587 * 0.4 + 0.114 * 0.6;
	double m = (g0 + g1) / 2;
	TU_CHECK_NEAR(v[0], 0.5 * 0.5 + 0.5 * m, 1e-6);
	d = (struct sup_jitter_draw){ { 2, 0, 1, 3 }, 1, 1, 0, 0 }; /* saturation 0: grayscale */
	memcpy(v, px, sizeof v);
	sup_image_color_jitter(&img, &d);
	TU_CHECK_NEAR(v[0], g0, 1e-6);
	TU_CHECK_NEAR(v[4], g0, 1e-6);
	/* Hue + 1/3 turns red into green; a full-range shift keeps greys. */
	float red[3] = { 1, 0, 0 };
	struct sup_image ri = { red, 3, 1, 1 };
	d = (struct sup_jitter_draw){ { 3, 0, 1, 2 }, 1, 1, 1, 1.0f / 3.0f };
	sup_image_color_jitter(&ri, &d);
	TU_CHECK(fabsf(red[0]) < 1e-5f && fabsf(red[1] - 1) < 1e-5f && fabsf(red[2]) < 1e-5f);
	/* A small hue shift and back is (nearly) the identity. */
	memcpy(v, px, sizeof v);
	d.hue = 0.05f;
	sup_image_color_jitter(&img, &d);
	d.hue = -0.05f;
	sup_image_color_jitter(&img, &d);
	int back = 1;
	for (int i = 0; i < 6; i++)
		back &= fabsf(v[i] - px[i]) < 1e-5f;
	TU_CHECK(back);
	/* One channel: saturation and hue change nothing, brightness does. */
	float gray[2] = { 0.2f, 0.6f };
	struct sup_image gi = { gray, 1, 1, 2 };
	d = (struct sup_jitter_draw){ { 2, 3, 0, 1 }, 1, 1, 0.1f, 0.4f };
	sup_image_color_jitter(&gi, &d);
	TU_CHECK(gray[0] == 0.2f && gray[1] == 0.6f);
	d.brightness = 2;
	sup_image_color_jitter(&gi, &d);
	TU_CHECK_NEAR(gray[0], 0.4, 1e-6);
	TU_CHECK(gray[1] == 1.0f);
}

static void test_pixel_ops(void)
{
	/* Grayscale keeps 3 channels. */
	float px[3] = { 1, 0.5f, 0 };
	struct sup_image g = { px, 3, 1, 1 };
	sup_image_grayscale(&g);
	TU_CHECK_NEAR(px[0], 0.2989 + 0.2935, 1e-6);
	TU_CHECK(px[0] == px[1] && px[1] == px[2]);
	/* Solarize. */
	float s[3] = { 0.2f, 0.5f, 0.9f };
	struct sup_image si = { s, 1, 1, 3 };
	sup_image_solarize(&si, 0.5f);
	TU_CHECK(s[0] == 0.2f && s[1] == 0.5f && fabsf(s[2] - 0.1f) < 1e-6f);
	/* Rotation: [[1, 2, 3], [4, 5, 6]] once counter-clockwise is [[3, 6], [2, 5], [1, 4]]. */
	float m[6] = { 1, 2, 3, 4, 5, 6 }, o[6], o2[6];
	struct sup_image mi = { m, 1, 2, 3 }, oi = { o, 0, 0, 0 }, oi2 = { o2, 0, 0, 0 };
	sup_image_rotate90(&oi, &mi, 1);
	TU_CHECK(oi.h == 3 && oi.w == 2 && o[0] == 3 && o[1] == 6 && o[2] == 2 && o[5] == 4);
	sup_image_rotate90(&oi, &mi, 2);
	TU_CHECK(o[0] == 6 && o[5] == 1);
	sup_image_rotate90(&oi, &mi, 3);
	sup_image_rotate90(&oi2, &oi, 1);
	TU_CHECK(memcmp(o2, m, sizeof m) == 0 && oi2.h == 2);
	/* Blur: a constant image stays constant; an impulse spreads symmetrically and keeps its mass. */
	float c[49], tmp[49];
	for (int i = 0; i < 49; i++)
		c[i] = 0.25f;
	struct sup_image ci = { c, 1, 7, 7 };
	sup_image_blur(&ci, tmp, 3, 1.5f);
	int flat = 1;
	for (int i = 0; i < 49; i++)
		flat &= fabsf(c[i] - 0.25f) < 1e-6f;
	TU_CHECK(flat);
	memset(c, 0, sizeof c);
	c[24] = 1;
	sup_image_blur(&ci, tmp, 5, 1.0f);
	double mass = 0;
	for (int i = 0; i < 49; i++)
		mass += c[i];
	TU_CHECK_NEAR(mass, 1.0, 1e-5);
	TU_CHECK(c[24] > c[23] && c[23] == c[25] && c[17] == c[31] && c[23] == c[17] && c[0] == 0);
	/* The centre weight of a 5-tap kernel of sigma 1 in 2-D. */
	double w0 = 1.0 / (1 + 2 * exp(-0.5) + 2 * exp(-2.0));
	TU_CHECK_NEAR(c[24], w0 * w0, 1e-6);
}

static void test_lab(void)
{
	/* White and sRGB red as two pixels [3, 1, 2]: R plane {1, 1}, G {1, 0}, B {1, 0}. */
	float lab[6] = { 1, 1, 1, 0, 1, 0 };
	struct sup_image li = { lab, 3, 1, 2 };
	sup_image_rgb_to_lab(&li);
	/* white -> (100, 0, 0); red -> (53.24, 80.09, 67.20) (standard D65 values). */
	TU_CHECK_NEAR(lab[0], 100, 0.01);
	TU_CHECK_NEAR(lab[2], 0, 0.01);
	TU_CHECK_NEAR(lab[4], 0, 0.01);
	TU_CHECK_NEAR(lab[1], 53.24, 0.02);
	TU_CHECK_NEAR(lab[3], 80.09, 0.02);
	TU_CHECK_NEAR(lab[5], 67.20, 0.02);
	/* Round trip on random colours (including dark ones in the linear segment). */
	enum { N = 500 };
	static float rgb[3 * N], back[3 * N];
	struct sup_rng r = sup_rng_make(5, 0);
	for (int i = 0; i < 3 * N; i++)
		rgb[i] = i < 30 ? 0.02f * sup_rng_uniform(&r) : sup_rng_uniform(&r);
	memcpy(back, rgb, sizeof rgb);
	struct sup_image bi = { back, 3, 1, N };
	sup_image_rgb_to_lab(&bi);
	sup_image_lab_to_rgb(&bi);
	double worst = 0;
	for (int i = 0; i < 3 * N; i++)
		worst = fmax(worst, fabs(back[i] - rgb[i]));
	TU_CHECK_MSG(worst < 2e-4, "Lab round trip error %g", worst);
}

static void test_jigsaw(void)
{
	struct sup_allocator al = sup_allocator_default();
	enum { N = 100 };
	static uint8_t p[N * 9], q[N * 9];
	int claimed = sup_jigsaw_perms_make(p, N, 42, &al);
	TU_CHECK(sup_jigsaw_perms_make(q, N, 42, &al) == claimed && memcmp(p, q, sizeof p) == 0);
	int dmin = 9, perm_ok = 1;
	for (int a = 0; a < N; a++) {
		int seen = 0;
		for (int k = 0; k < 9; k++)
			seen |= p[a * 9 + k] < 9 ? 1 << p[a * 9 + k] : 1 << 10;
		perm_ok &= seen == 511;
		for (int b = a + 1; b < N; b++) {
			int d = 0;
			for (int k = 0; k < 9; k++)
				d += p[a * 9 + k] != p[b * 9 + k];
			dmin = d < dmin ? d : dmin;
		}
	}
	TU_CHECK(perm_ok);
	TU_CHECK_MSG(dmin == claimed && dmin >= 6, "min Hamming %d, claimed %d", dmin, claimed);
	TU_CHECK(sup_jigsaw_perms_make(q, N, 43, &al) >= 6 && memcmp(p, q, sizeof p) != 0);
	TU_CHECK(sup_jigsaw_perms_make(q, 0, 1, &al) == -1 && sup_jigsaw_perms_make(q, 1001, 1, &al) == -1);

	/* Tiles: a 9x9 image whose pixels name their 3x3 cell; tile 3 = whole cells. */
	float img[81], tiles[81];
	for (int y = 0; y < 9; y++)
		for (int x = 0; x < 9; x++)
			img[y * 9 + x] = (float)((y / 3) * 3 + x / 3);
	struct sup_image im = { img, 1, 9, 9 };
	struct sup_rng r = sup_rng_make(1, 1);
	sup_aug_jigsaw(&im, 2, p, &r, tiles);
	int tiles_ok = 1;
	for (int i = 0; i < 9; i++)
		for (int k = 0; k < 4; k++)
			tiles_ok &= tiles[i * 4 + k] == (float)p[i];
	TU_CHECK(tiles_ok);
}

static void test_patch_pair(void)
{
	float img[3 * 30 * 30], ctr[3 * 8 * 8], nb[3 * 8 * 8];
	for (int k = 0; k < 3; k++)
		for (int y = 0; y < 30; y++)
			for (int x = 0; x < 30; x++)
				img[(k * 30 + y) * 30 + x] = (float)((y / 10) * 3 + x / 10) + 10 * k;
	struct sup_image im = { img, 3, 30, 30 };
	int counts[8] = { 0 }, ok = 1;
	for (int i = 0; i < 800; i++) {
		struct sup_rng r = sup_rng_make(9, (uint64_t)i);
		int label = sup_aug_patch_pair(&im, 8, 1, &r, ctr, nb);
		counts[label]++;
		int pos = label < 4 ? label : label + 1;
		for (int k = 0; k < 3; k++)
			for (int j = 0; j < 64; j++)
				ok &= ctr[k * 64 + j] == 4 + 10 * k && nb[k * 64 + j] == pos + 10 * k;
	}
	TU_CHECK(ok);
	int spread = 1;
	for (int l = 0; l < 8; l++)
		spread &= counts[l] > 60 && counts[l] < 140;
	TU_CHECK(spread);
}

/* The SimCLR transform on n random images, split over `threads` threads. */
static void run_simclr(float *out, const uint8_t *in, int n, int threads)
{
	struct sup_multiview mv;
	sup_multiview_simclr(&mv, 24, 1.0f, true);
	int c, h, w;
	size_t sf;
	char err[128];
	TU_CHECK(sup_transform_check(&mv.views[0], 3, 32, 32, &c, &h, &w, &sf, err, sizeof err) == SUP_OK);
	TU_CHECK(c == 3 && h == 24 && w == 24);
#pragma omp parallel num_threads(threads)
	{
		float *scratch = malloc(sf * sizeof(float));
#pragma omp for schedule(dynamic, 1)
		for (int i = 0; i < n; i++)
			for (int v = 0; v < 2; v++) {
				struct sup_image o = { out + ((size_t)i * 2 + v) * 3 * 24 * 24, 0, 0, 0 };
				sup_transform_apply(&mv.views[v], in + (size_t)i * 3 * 32 * 32, 3, 32, 32, &o, scratch,
						    sup_aug_rng(77, 2, i, v), v);
			}
		free(scratch);
	}
}

static void test_determinism(void)
{
	enum { N = 24 };
	const size_t per = 2 * 3 * 24 * 24;
	uint8_t *in = malloc((size_t)N * 3 * 32 * 32);
	float *a = malloc(N * per * sizeof(float)), *b = malloc(N * per * sizeof(float));
	struct sup_rng r = sup_rng_make(3, 3);
	for (size_t i = 0; i < (size_t)N * 3 * 32 * 32; i++)
		in[i] = (uint8_t)sup_rng_below(&r, 256);
	run_simclr(a, in, N, 1);
	run_simclr(b, in, N, 3);
	TU_CHECK(memcmp(a, b, N * per * sizeof(float)) == 0);
	/* The two views of a sample differ, values stay in [0, 1]. */
	TU_CHECK(memcmp(a, a + per / 2, per / 2 * sizeof(float)) != 0);
	int in_range = 1;
	for (size_t i = 0; i < N * per; i++)
		in_range &= a[i] >= 0 && a[i] <= 1;
	TU_CHECK(in_range);
	/* Another epoch gives other views. */
	TU_CHECK(sup_aug_rng(77, 2, 0, 0).key != sup_aug_rng(77, 3, 0, 0).key);
	TU_CHECK(sup_aug_rng(77, 2, 0, 0).key != sup_aug_rng(77, 2, 1, 0).key);
	TU_CHECK(sup_aug_rng(77, 2, 0, 0).key != sup_aug_rng(77, 2, 0, 1).key);
	free(in);
	free(a);
	free(b);
}

static void test_transform_checks(void)
{
	struct sup_transform t = { 0 };
	int c, h, w;
	size_t sf;
	char err[256];
	sup_transform_add(&t, sup_aug_color_jitter(0.4f, 0.4f, 0.4f, 0.1f, 0.8f));
	TU_CHECK(sup_transform_check(&t, 2, 8, 8, &c, &h, &w, &sf, err, sizeof err) == SUP_ERR_SHAPE && strstr(err, "step 0"));
	t.n_steps = 0;
	sup_transform_add(&t, sup_aug_center_crop(10, 10));
	TU_CHECK(sup_transform_check(&t, 1, 8, 8, &c, &h, &w, &sf, err, sizeof err) == SUP_ERR_SHAPE);
	t.n_steps = 0;
	sup_transform_add(&t, sup_aug_blur(4, 0.1f, 2, 1));
	TU_CHECK(sup_transform_check(&t, 1, 8, 8, &c, &h, &w, &sf, err, sizeof err) == SUP_ERR_ARG);
	t.n_steps = 0;
	sup_transform_add(&t, sup_aug_rotate90(-2));
	TU_CHECK(sup_transform_check(&t, 1, 8, 6, &c, &h, &w, &sf, err, sizeof err) == SUP_ERR_SHAPE);
	t.n_steps = 0;
	sup_transform_add(&t, sup_aug_to_lab());
	TU_CHECK(sup_transform_check(&t, 1, 8, 8, &c, &h, &w, &sf, err, sizeof err) == SUP_ERR_SHAPE);
	t.n_steps = SUP_AUG_MAX_STEPS;
	TU_CHECK(sup_transform_add(&t, sup_aug_hflip(0.5f)) == SUP_ERR_ARG);
	/* RotNet: view v is rotated v quarter turns; normalize; centre crop. */
	t.n_steps = 0;
	sup_transform_add(&t, sup_aug_center_crop(2, 2));
	sup_transform_add(&t, sup_aug_rotate90(-1));
	sup_transform_add(&t, sup_aug_normalize(1, (const float[]){ 0.5f }, (const float[]){ 0.5f }));
	TU_CHECK(sup_transform_check(&t, 1, 4, 4, &c, &h, &w, &sf, err, sizeof err) == SUP_OK && h == 2 && sf == 48);
	uint8_t in[16] = { 0 };
	in[5] = 255; /* top-left of the centre 2x2 */
	float out[4], scratch[48];
	struct sup_image o = { out, 0, 0, 0 };
	sup_transform_apply(&t, in, 1, 4, 4, &o, scratch, sup_aug_rng(1, 0, 0, 1), 1);
	/* One quarter turn counter-clockwise moves top-left to bottom-left; normalized 1 -> 1, 0 -> -1. */
	TU_CHECK(out[2] == 1 && out[0] == -1 && out[1] == -1 && out[3] == -1);
}

int main(void)
{
	test_resize_and_crop_params();
	test_flip_rate();
	test_jitter();
	test_jitter_ops();
	test_pixel_ops();
	test_lab();
	test_jigsaw();
	test_patch_pair();
	test_determinism();
	test_transform_checks();
	return tu_finish("augment");
}
