/* Colour augmentations with torchvision's functional semantics (transforms/_functional_tensor.py,
 * v0.15): each adjustment blends the image with a reference image and clamps to [0, 1]:
 * brightness with black, contrast with the mean of the grayscale image, saturation with the
 * grayscale image; hue rotates the HSV hue. ColorJitter applies them in a random order.
 * Lab conversion (for CMC, Tian, Krishnan, Isola, ECCV 2020, section 4.1: L and ab as two views)
 * uses the sRGB transfer curve and the D65 white point, as skimage.color.rgb2lab does. */
#include "selfsup/data.h"

#include <math.h>

/* torchvision's rgb_to_grayscale weights (ITU-R 601-2 luma). */
#define LUMA_R 0.2989f
#define LUMA_G 0.587f
#define LUMA_B 0.114f

static float clamp01(float v)
{
	return v < 0 ? 0 : v > 1 ? 1 : v;
}

static float uniform_in(struct sup_rng *r, float lo, float hi)
{
	return lo + (hi - lo) * sup_rng_uniform(r);
}

void sup_aug_jitter_params(struct sup_rng *rng, const struct sup_aug_step *j, struct sup_jitter_draw *d)
{
	int64_t perm[4];
	sup_rng_permutation(rng, perm, 4);
	for (int i = 0; i < 4; i++)
		d->order[i] = (int)perm[i];
	/* All four are drawn even when a strength is 0, so that one strength does not shift the
	 * others' draws; a strength of 0 gives the identity factor. */
	float b = uniform_in(rng, fmaxf(0.0f, 1.0f - j->brightness), 1.0f + j->brightness);
	float c = uniform_in(rng, fmaxf(0.0f, 1.0f - j->contrast), 1.0f + j->contrast);
	float s = uniform_in(rng, fmaxf(0.0f, 1.0f - j->saturation), 1.0f + j->saturation);
	float h = uniform_in(rng, -j->hue, j->hue);
	d->brightness = j->brightness > 0 ? b : 1.0f;
	d->contrast = j->contrast > 0 ? c : 1.0f;
	d->saturation = j->saturation > 0 ? s : 1.0f;
	d->hue = j->hue > 0 ? h : 0.0f;
}

static void brightness(struct sup_image *img, float f)
{
	const size_t n = (size_t)img->c * img->h * img->w;
#pragma omp simd
	for (size_t i = 0; i < n; i++)
		img->data[i] = clamp01(f * img->data[i]);
}

static void contrast(struct sup_image *img, float f)
{
	const size_t hw = (size_t)img->h * img->w, n = hw * img->c;
	double mean = 0;
	if (img->c == 3) {
		for (size_t i = 0; i < hw; i++)
			mean += LUMA_R * img->data[i] + LUMA_G * img->data[hw + i] + LUMA_B * img->data[2 * hw + i];
	} else {
		for (size_t i = 0; i < hw; i++)
			mean += img->data[i];
	}
	const float m = (float)(mean / (double)hw);
#pragma omp simd
	for (size_t i = 0; i < n; i++)
		img->data[i] = clamp01(f * img->data[i] + (1.0f - f) * m);
}

static void saturation(struct sup_image *img, float f)
{
	if (img->c != 3)
		return;
	const size_t hw = (size_t)img->h * img->w;
	float *r = img->data, *g = r + hw, *b = g + hw;
#pragma omp simd
	for (size_t i = 0; i < hw; i++) {
		float gray = LUMA_R * r[i] + LUMA_G * g[i] + LUMA_B * b[i];
		r[i] = clamp01(f * r[i] + (1.0f - f) * gray);
		g[i] = clamp01(f * g[i] + (1.0f - f) * gray);
		b[i] = clamp01(f * b[i] + (1.0f - f) * gray);
	}
}

/* RGB -> HSV -> hue + shift -> RGB, following torchvision's _rgb2hsv / _hsv2rgb. */
static void hue(struct sup_image *img, float shift)
{
	if (img->c != 3)
		return;
	const size_t hw = (size_t)img->h * img->w;
	float *R = img->data, *G = R + hw, *B = G + hw;
	for (size_t i = 0; i < hw; i++) {
		float r = R[i], g = G[i], b = B[i];
		float maxc = fmaxf(r, fmaxf(g, b)), minc = fminf(r, fminf(g, b)), cr = maxc - minc;
		bool eq = maxc == minc;
		float s = cr / (eq ? 1.0f : maxc), div = eq ? 1.0f : cr;
		float rc = (maxc - r) / div, gc = (maxc - g) / div, bc = (maxc - b) / div;
		float h;
		if (maxc == r)
			h = bc - gc;
		else if (maxc == g)
			h = 2.0f + rc - bc;
		else
			h = 4.0f + gc - rc;
		h = fmodf(h / 6.0f + 1.0f, 1.0f);
		h = fmodf(h + shift + 1.0f, 1.0f); /* torchvision: (h + shift) % 1.0, shift in [-0.5, 0.5] */
		float v = maxc, h6 = h * 6.0f, fl = floorf(h6), f = h6 - fl;
		int sector = ((int)fl) % 6;
		float p = clamp01(v * (1 - s)), q = clamp01(v * (1 - s * f)), t = clamp01(v * (1 - s * (1 - f)));
		float o[6][3] = { { v, t, p }, { q, v, p }, { p, v, t }, { p, q, v }, { t, p, v }, { v, p, q } };
		R[i] = o[sector][0];
		G[i] = o[sector][1];
		B[i] = o[sector][2];
	}
}

void sup_image_color_jitter(struct sup_image *img, const struct sup_jitter_draw *d)
{
	for (int i = 0; i < 4; i++) {
		switch (d->order[i]) {
		case 0:
			if (d->brightness != 1.0f)
				brightness(img, d->brightness);
			break;
		case 1:
			if (d->contrast != 1.0f)
				contrast(img, d->contrast);
			break;
		case 2:
			if (d->saturation != 1.0f)
				saturation(img, d->saturation);
			break;
		default:
			if (d->hue != 0.0f)
				hue(img, d->hue);
			break;
		}
	}
}

void sup_image_grayscale(struct sup_image *img)
{
	if (img->c != 3)
		return;
	const size_t hw = (size_t)img->h * img->w;
	float *r = img->data, *g = r + hw, *b = g + hw;
	for (size_t i = 0; i < hw; i++)
		r[i] = g[i] = b[i] = LUMA_R * r[i] + LUMA_G * g[i] + LUMA_B * b[i];
}

/* ---- CIE L*a*b* (D65) ---- */

#define LAB_XN 0.95047f
#define LAB_ZN 1.08883f
#define LAB_EPS 0.008856452f /* (6/29)^3 */
#define LAB_K 7.787037f      /* 1 / (3 (6/29)^2) */

static float srgb_to_linear(float c)
{
	return c <= 0.04045f ? c / 12.92f : powf((c + 0.055f) / 1.055f, 2.4f);
}

static float linear_to_srgb(float c)
{
	return c <= 0.0031308f ? 12.92f * c : 1.055f * powf(c, 1.0f / 2.4f) - 0.055f;
}

static float lab_f(float t)
{
	return t > LAB_EPS ? cbrtf(t) : LAB_K * t + 4.0f / 29.0f;
}

static float lab_finv(float t)
{
	return t > 6.0f / 29.0f ? t * t * t : (t - 4.0f / 29.0f) / LAB_K;
}

void sup_image_rgb_to_lab(struct sup_image *img)
{
	SUP_ASSERT(img->c == 3);
	const size_t hw = (size_t)img->h * img->w;
	float *P0 = img->data, *P1 = P0 + hw, *P2 = P1 + hw;
	for (size_t i = 0; i < hw; i++) {
		float r = srgb_to_linear(P0[i]), g = srgb_to_linear(P1[i]), b = srgb_to_linear(P2[i]);
		float x = 0.4124564f * r + 0.3575761f * g + 0.1804375f * b;
		float y = 0.2126729f * r + 0.7151522f * g + 0.0721750f * b;
		float z = 0.0193339f * r + 0.1191920f * g + 0.9503041f * b;
		float fx = lab_f(x / LAB_XN), fy = lab_f(y), fz = lab_f(z / LAB_ZN);
		P0[i] = 116.0f * fy - 16.0f;
		P1[i] = 500.0f * (fx - fy);
		P2[i] = 200.0f * (fy - fz);
	}
}

void sup_image_lab_to_rgb(struct sup_image *img)
{
	SUP_ASSERT(img->c == 3);
	const size_t hw = (size_t)img->h * img->w;
	float *P0 = img->data, *P1 = P0 + hw, *P2 = P1 + hw;
	for (size_t i = 0; i < hw; i++) {
		float fy = (P0[i] + 16.0f) / 116.0f, fx = fy + P1[i] / 500.0f, fz = fy - P2[i] / 200.0f;
		float x = LAB_XN * lab_finv(fx), y = lab_finv(fy), z = LAB_ZN * lab_finv(fz);
		float r = 3.2404542f * x - 1.5371385f * y - 0.4985314f * z;
		float g = -0.9692660f * x + 1.8760108f * y + 0.0415560f * z;
		float b = 0.0556434f * x - 0.2040259f * y + 1.0572252f * z;
		P0[i] = clamp01(linear_to_srgb(fmaxf(r, 0.0f)));
		P1[i] = clamp01(linear_to_srgb(fmaxf(g, 0.0f)));
		P2[i] = clamp01(linear_to_srgb(fmaxf(b, 0.0f)));
	}
}
