/* Plots for run folders: training curves and labelled scatter plots as SVG (text, no library),
 * image grids as PNG (zlib for the deflate stream and the chunk CRCs), and the exact t-SNE that
 * turns embeddings into a 2-D scatter.
 *
 * t-SNE follows van der Maaten & Hinton, "Visualizing Data using t-SNE", JMLR 2008: Gaussian
 * conditionals P(j|i) with per-point bandwidths found by binary search for the perplexity
 * (sec. 2), symmetrised p_ij = (p_j|i + p_i|j) / 2N (sec. 3.1), Student-t similarities q_ij in
 * the map (sec. 3.2), gradient eq. 5, early exaggeration and momentum (sec. 3.4), with the
 * per-parameter gains (Jacobs 1988) of the authors' reference implementation. Exact O(N^2) per
 * iteration: callers subsample to a few thousand points. */
#define _POSIX_C_SOURCE 200809L

#include "io/io_internal.h"
#include "selfsup/run.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* tab10, the palette matplotlib users recognise. */
static const char *const palette[10] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
					"#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

static enum sup_status close_checked(FILE *f, const char *path, char *err, size_t err_size)
{
	bool bad = ferror(f) != 0;
	if (fclose(f) != 0 || bad)
		return sup_errf(err, err_size, SUP_ERR_IO, "%s: write failed: %s", path, strerror(errno));
	return SUP_OK;
}

static void svg_text(FILE *f, double x, double y, const char *anchor, const char *s)
{
	fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\">", x, y, anchor);
	for (; *s; s++) {
		if (*s == '<')
			fputs("&lt;", f);
		else if (*s == '&')
			fputs("&amp;", f);
		else if (*s == '>')
			fputs("&gt;", f);
		else
			fputc(*s, f);
	}
	fputs("</text>\n", f);
}

static void range(const double *v, int64_t n, double *lo, double *hi)
{
	*lo = INFINITY;
	*hi = -INFINITY;
	for (int64_t i = 0; i < n; i++) {
		if (isfinite(v[i])) {
			*lo = v[i] < *lo ? v[i] : *lo;
			*hi = v[i] > *hi ? v[i] : *hi;
		}
	}
	if (!(*lo <= *hi)) {
		*lo = 0;
		*hi = 1;
	}
	if (*hi - *lo < 1e-12 * (fabs(*hi) + 1)) {
		*lo -= 0.5;
		*hi += 0.5;
	}
}

#define PANEL_W 640.0
#define PANEL_H 180.0
#define MARGIN	60.0

enum sup_status sup_plot_curves_svg(const char *path, const char *title, const struct sup_plot_series *s, int n,
				    char *err, size_t err_size)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return sup_errf(err, err_size, SUP_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
	double height = 40 + n * (PANEL_H + 50);
	fprintf(f,
		"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" font-family=\"sans-serif\" "
		"font-size=\"12\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
		PANEL_W + 2 * MARGIN, height);
	svg_text(f, (PANEL_W + 2 * MARGIN) / 2, 22, "middle", title);
	for (int k = 0; k < n; k++) {
		double top = 40 + k * (PANEL_H + 50), xlo, xhi, ylo, yhi;
		range(s[k].x, s[k].n, &xlo, &xhi);
		range(s[k].y, s[k].n, &ylo, &yhi);
		fprintf(f,
			"<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"#888\"/>\n",
			MARGIN, top, PANEL_W, PANEL_H);
		char buf[64];
		snprintf(buf, sizeof buf, "%.4g", yhi);
		svg_text(f, MARGIN - 4, top + 10, "end", buf);
		snprintf(buf, sizeof buf, "%.4g", ylo);
		svg_text(f, MARGIN - 4, top + PANEL_H, "end", buf);
		snprintf(buf, sizeof buf, "%.6g", xlo);
		svg_text(f, MARGIN, top + PANEL_H + 14, "start", buf);
		snprintf(buf, sizeof buf, "%.6g", xhi);
		svg_text(f, MARGIN + PANEL_W, top + PANEL_H + 14, "end", buf);
		svg_text(f, MARGIN + PANEL_W / 2, top + PANEL_H + 30, "middle", s[k].name);
		fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" points=\"", palette[k % 10]);
		for (int64_t i = 0; i < s[k].n; i++) {
			if (!isfinite(s[k].x[i]) || !isfinite(s[k].y[i]))
				continue;
			fprintf(f, "%.1f,%.1f ", MARGIN + PANEL_W * (s[k].x[i] - xlo) / (xhi - xlo),
				top + PANEL_H - PANEL_H * (s[k].y[i] - ylo) / (yhi - ylo));
		}
		fprintf(f, "\"/>\n");
	}
	fprintf(f, "</svg>\n");
	return close_checked(f, path, err, err_size);
}

enum sup_status sup_plot_scatter_svg(const char *path, const char *title, const float *xy, const int64_t *labels,
				     int64_t n, char *err, size_t err_size)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return sup_errf(err, err_size, SUP_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
	double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY, side = 600;
	for (int64_t i = 0; i < n; i++) {
		xlo = fmin(xlo, xy[2 * i]);
		xhi = fmax(xhi, xy[2 * i]);
		ylo = fmin(ylo, xy[2 * i + 1]);
		yhi = fmax(yhi, xy[2 * i + 1]);
	}
	double span = fmax(fmax(xhi - xlo, yhi - ylo), 1e-12);
	fprintf(f,
		"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" font-family=\"sans-serif\" "
		"font-size=\"12\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
		side + 140, side + 60);
	svg_text(f, side / 2 + 20, 22, "middle", title);
	int64_t max_label = -1;
	for (int64_t i = 0; i < n; i++) {
		int64_t l = labels ? labels[i] : 0;
		max_label = l > max_label ? l : max_label;
		fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" fill=\"%s\" fill-opacity=\"0.7\"/>\n",
			20 + side * (xy[2 * i] - xlo) / span, 40 + side * (xy[2 * i + 1] - ylo) / span,
			l >= 0 ? palette[l % 10] : "#000");
	}
	for (int64_t l = 0; labels && l <= max_label && l < 40; l++) {
		char buf[32];
		snprintf(buf, sizeof buf, "%lld", (long long)l);
		fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"5\" fill=\"%s\"/>\n", side + 50, 50 + 16.0 * (double)l,
			palette[l % 10]);
		svg_text(f, side + 60, 54 + 16.0 * (double)l, "start", buf);
	}
	fprintf(f, "</svg>\n");
	return close_checked(f, path, err, err_size);
}

/* ---- PNG ------------------------------------------------------------------------------------ */

static void be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

/* A chunk: length, type, data, CRC-32 (ISO 3309, zlib's crc32) over type and data. */
static void png_chunk(FILE *f, const char *type, const unsigned char *data, uint32_t n)
{
	unsigned char hdr[8], crc[4];
	be32(hdr, n);
	memcpy(hdr + 4, type, 4);
	uLong c = crc32(0L, (const Bytef *)type, 4);
	if (n)
		c = crc32(c, data, n);
	be32(crc, (uint32_t)c);
	fwrite(hdr, 1, 8, f);
	if (n)
		fwrite(data, 1, n, f);
	fwrite(crc, 1, 4, f);
}

enum sup_status sup_plot_grid_png(const char *path, const struct sup_tensor *images, int ncol, char *err,
				  size_t err_size)
{
	if (!images || images->ndim != 4 || (images->shape[1] != 1 && images->shape[1] != 3) || ncol < 1 ||
	    !sup_dtype_is_float(images->dtype))
		return sup_errf(err, err_size, SUP_ERR_ARG, "image grid: expected float images [N, 1|3, H, W]");
	int64_t n = images->shape[0], c = images->shape[1], h = images->shape[2], w = images->shape[3], pad = 2;
	int64_t cols = n < ncol ? (n ? n : 1) : ncol, rows = (n + cols - 1) / cols;
	int64_t W = cols * (w + pad) + pad, H = rows * (h + pad) + pad, stride = 1 + 3 * W;
	if (W > 16384 || H > 16384)
		return sup_errf(err, err_size, SUP_ERR_ARG, "image grid: %lld x %lld pixels is too large",
				   (long long)W, (long long)H);
	size_t raw_n = (size_t)(stride * H);
	unsigned char *raw = calloc(raw_n, 1);
	uLongf z_n = compressBound((uLong)raw_n);
	unsigned char *z = malloc(z_n);
	enum sup_status s = SUP_ERR_NOMEM;
	if (!raw || !z) {
		sup_errf(err, err_size, s, "out of memory");
		goto cleanup;
	}
	memset(raw, 255, raw_n); /* white gaps */
	for (int64_t y = 0; y < H; y++)
		raw[y * stride] = 0; /* filter type None */
	for (int64_t i = 0; i < n; i++) {
		int64_t ox = pad + (i % cols) * (w + pad), oy = pad + (i / cols) * (h + pad);
		for (int64_t y = 0; y < h; y++)
			for (int64_t x = 0; x < w; x++)
				for (int64_t k = 0; k < 3; k++) {
					int64_t idx[4] = {i, c == 1 ? 0 : k, y, x};
					double v =
					    sup_tensor_get(images, ((idx[0] * c + idx[1]) * h + idx[2]) * w + idx[3]);
					v = isfinite(v) ? fmin(fmax(v, 0.0), 1.0) : 0.0;
					raw[(oy + y) * stride + 1 + 3 * (ox + x) + k] =
					    (unsigned char)lround(255.0 * v);
				}
	}
	if (compress2(z, &z_n, raw, (uLong)raw_n, 6) != Z_OK) {
		s = sup_errf(err, err_size, SUP_ERR_IO, "image grid: deflate failed");
		goto cleanup;
	}
	FILE *f = fopen(path, "wb");
	if (!f) {
		s = sup_errf(err, err_size, SUP_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
		goto cleanup;
	}
	static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
	unsigned char ihdr[13];
	be32(ihdr, (uint32_t)W);
	be32(ihdr + 4, (uint32_t)H);
	ihdr[8] = 8;  /* bit depth */
	ihdr[9] = 2;  /* truecolour RGB */
	ihdr[10] = 0; /* deflate */
	ihdr[11] = 0; /* adaptive filtering (each row says None) */
	ihdr[12] = 0; /* no interlace */
	fwrite(sig, 1, 8, f);
	png_chunk(f, "IHDR", ihdr, 13);
	png_chunk(f, "IDAT", z, (uint32_t)z_n);
	png_chunk(f, "IEND", NULL, 0);
	s = close_checked(f, path, err, err_size);
cleanup:
	free(raw);
	free(z);
	return s;
}

/* ---- t-SNE ---------------------------------------------------------------------------------- */

/* Row i of P(j|i) for squared distances d (row i), with beta = 1 / (2 sigma^2) found by
 * bisection so that the entropy is log(perplexity) (sec. 2). */
static void tsne_row(double *p, const double *d, int64_t n, int64_t i, double perplexity)
{
	/* Distances are shifted by the row's smallest so that exp() cannot underflow to all zeros. */
	double dmin = INFINITY;
	for (int64_t j = 0; j < n; j++)
		if (j != i)
			dmin = fmin(dmin, d[j]);
	double beta = 1, lo = 0, hi = INFINITY, target = log(perplexity);
	for (int it = 0; it < 100; it++) {
		double sum = 0, hsum = 0;
		for (int64_t j = 0; j < n; j++) {
			p[j] = j == i ? 0 : exp(-beta * (d[j] - dmin));
			sum += p[j];
		}
		for (int64_t j = 0; j < n; j++)
			hsum += (d[j] - dmin) * p[j];
		double entropy = log(sum) + beta * hsum / sum;
		for (int64_t j = 0; j < n; j++)
			p[j] /= sum;
		if (fabs(entropy - target) < 1e-5)
			break;
		if (entropy > target) {
			lo = beta;
			beta = isinf(hi) ? beta * 2 : (beta + hi) / 2;
		} else {
			hi = beta;
			beta = (beta + lo) / 2;
		}
	}
}

/* One gradient (eq. 5, scaled by exaggeration on P) into g; q_sum is sum over i != j of the
 * Student-t kernel. Per-row loops in fixed order: the result does not depend on the threads. */
static void tsne_grad(double *g, double *num, double *rowsum, const double *y, const double *P, int64_t n,
		      double exaggeration)
{
#pragma omp parallel for schedule(static) if (n >= 512)
	for (int64_t i = 0; i < n; i++) {
		double s = 0;
		for (int64_t j = 0; j < n; j++) {
			double dx = y[2 * i] - y[2 * j], dy = y[2 * i + 1] - y[2 * j + 1];
			num[i * n + j] = j == i ? 0 : 1 / (1 + dx * dx + dy * dy);
			s += num[i * n + j];
		}
		rowsum[i] = s;
	}
	double z = 0;
	for (int64_t i = 0; i < n; i++)
		z += rowsum[i];
#pragma omp parallel for schedule(static) if (n >= 512)
	for (int64_t i = 0; i < n; i++) {
		double gx = 0, gy = 0;
		for (int64_t j = 0; j < n; j++) {
			double m = (exaggeration * P[i * n + j] - num[i * n + j] / z) * num[i * n + j];
			gx += m * (y[2 * i] - y[2 * j]);
			gy += m * (y[2 * i + 1] - y[2 * j + 1]);
		}
		g[2 * i] = 4 * gx;
		g[2 * i + 1] = 4 * gy;
	}
}

enum sup_status sup_tsne(float *out, const float *x, int64_t n, int64_t d, double perplexity, int iters, uint64_t seed)
{
	if (n < 2 || d < 1 || perplexity <= 0 || iters < 1 || n > 20000)
		return SUP_ERR_ARG;
	if (perplexity > (double)(n - 1) / 3)
		perplexity = (double)(n - 1) / 3; /* the usual limit: each point needs 3 * perplexity neighbours */
	if (perplexity < 1)
		perplexity = 1;
	size_t nn = (size_t)(n * n);
	double *D = malloc(sizeof(double) * nn), *P = malloc(sizeof(double) * nn), *y = malloc(sizeof(double) * 2 * n);
	double *g = malloc(sizeof(double) * 2 * n), *upd = calloc(2 * (size_t)n, sizeof(double));
	double *gain = malloc(sizeof(double) * 2 * n), *rowsum = malloc(sizeof(double) * n);
	enum sup_status s = SUP_ERR_NOMEM;
	if (!D || !P || !y || !g || !upd || !gain || !rowsum)
		goto cleanup;
#pragma omp parallel for schedule(static) if (n >= 512)
	for (int64_t i = 0; i < n; i++)
		for (int64_t j = 0; j < n; j++) {
			double acc = 0;
			for (int64_t k = 0; k < d; k++) {
				double t = (double)x[i * d + k] - (double)x[j * d + k];
				acc += t * t;
			}
			D[i * n + j] = acc;
		}
#pragma omp parallel for schedule(static) if (n >= 512)
	for (int64_t i = 0; i < n; i++)
		tsne_row(P + i * n, D + i * n, n, i, perplexity);
	for (int64_t i = 0; i < n; i++)
		for (int64_t j = i + 1; j < n; j++) {
			double v = fmax((P[i * n + j] + P[j * n + i]) / (2.0 * (double)n), 1e-12);
			P[i * n + j] = P[j * n + i] = v;
		}
	struct sup_rng r = sup_rng_make(seed, 0x75e);
	for (int64_t i = 0; i < 2 * n; i++) {
		y[i] = 1e-4 * sup_rng_normal(&r);
		gain[i] = 1;
	}
	double *num = D; /* the distances are not needed any more */
	for (int it = 0; it < iters; it++) {
		double exag = it < 250 && it < iters / 2 ? 12.0 : 1.0, mom = it < 250 ? 0.5 : 0.8;
		tsne_grad(g, num, rowsum, y, P, n, exag);
		for (int64_t i = 0; i < 2 * n; i++) {
			gain[i] = (g[i] > 0) != (upd[i] > 0) ? gain[i] + 0.2 : gain[i] * 0.8;
			gain[i] = fmax(gain[i], 0.01);
			upd[i] = mom * upd[i] - 200.0 * gain[i] * g[i];
			y[i] += upd[i];
		}
		for (int k = 0; k < 2; k++) { /* recentre */
			double m = 0;
			for (int64_t i = 0; i < n; i++)
				m += y[2 * i + k];
			m /= (double)n;
			for (int64_t i = 0; i < n; i++)
				y[2 * i + k] -= m;
		}
	}
	for (int64_t i = 0; i < 2 * n; i++)
		out[i] = (float)y[i];
	s = SUP_OK;
cleanup:
	free(D);
	free(P);
	free(y);
	free(g);
	free(upd);
	free(gain);
	free(rowsum);
	return s;
}
