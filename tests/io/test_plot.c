/* io layer: plots (PNG image grids decoded back, SVG curves and scatter plots, t-SNE). */
#define _POSIX_C_SOURCE 200809L

#include "iotest.h"
#include "selfsup/run.h"

#include <zlib.h>

static uint32_t rd_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Two 1x2x3 grey images in a grid of 2 columns: the decoded pixels are the images with 2-pixel
 * white gaps; every chunk CRC is right. */
static void test_png(const char *dir)
{
	float px[2 * 6] = {0, 1, 0.5f, 0.25f, 2.0f, -1.0f, 1, 1, 1, 0, 0, 0};
	struct sup_tensor t;
	sup_tensor_init(&t, SUP_F32, 4, (const int64_t[]){2, 1, 2, 3}, px);
	char path[128], err[256] = "";
	snprintf(path, sizeof path, "%s/grid.png", dir);
	TU_CHECK_MSG(sup_plot_grid_png(path, &t, 2, err, sizeof err) == SUP_OK, "%s", err);
	size_t n = 0;
	unsigned char *b = iot_read_file(path, &n);
	TU_CHECK(b && n > 8 + 25 + 12 + 12 && memcmp(b, "\x89PNG\r\n\x1a\n", 8) == 0);
	if (!b)
		return;
	uint32_t W = 0, H = 0;
	unsigned char raw[4096];
	uLongf raw_n = sizeof raw;
	bool got_idat = false, got_iend = false;
	for (size_t off = 8; off + 12 <= n;) {
		uint32_t len = rd_be32(b + off);
		TU_CHECK(off + 12 + len <= n);
		uLong crc = crc32(crc32(0L, Z_NULL, 0), b + off + 4, 4 + len);
		TU_CHECK(rd_be32(b + off + 8 + len) == (uint32_t)crc);
		if (memcmp(b + off + 4, "IHDR", 4) == 0) {
			W = rd_be32(b + off + 8);
			H = rd_be32(b + off + 12);
			TU_CHECK(b[off + 16] == 8 && b[off + 17] == 2 && b[off + 20] == 0);
		} else if (memcmp(b + off + 4, "IDAT", 4) == 0) {
			got_idat = uncompress(raw, &raw_n, b + off + 8, len) == Z_OK;
		} else if (memcmp(b + off + 4, "IEND", 4) == 0) {
			got_iend = len == 0 && off + 12 == n;
		}
		off += 12 + len;
	}
	TU_CHECK(W == 2 * (3 + 2) + 2 && H == 2 + 2 + 2 && got_idat && got_iend);
	TU_CHECK(raw_n == (1 + 3 * W) * H);
	/* Image 0 at (2, 2), image 1 at (7, 2); values clipped to [0, 1] and rounded. */
	const unsigned char want0[6] = {0, 255, 128, 64, 255, 0}, want1[6] = {255, 255, 255, 0, 0, 0};
	for (int y = 0; y < 2; y++)
		for (int x = 0; x < 3; x++)
			for (int k = 0; k < 3; k++) {
				size_t row = (size_t)(2 + y) * (1 + 3 * W);
				TU_CHECK(raw[row + 1 + 3 * (2 + x) + k] == want0[y * 3 + x]);
				TU_CHECK(raw[row + 1 + 3 * (7 + x) + k] == want1[y * 3 + x]);
			}
	TU_CHECK(raw[0] == 0 && raw[1] == 255); /* filter byte, white gap */
	free(b);
	struct sup_tensor bad;
	sup_tensor_init(&bad, SUP_F32, 3, (const int64_t[]){2, 2, 3}, px);
	TU_CHECK(sup_plot_grid_png(path, &bad, 2, err, sizeof err) == SUP_ERR_ARG);
}

static int count(const char *s, const char *needle)
{
	int c = 0;
	for (const char *p = s; (p = strstr(p, needle)); p++)
		c++;
	return c;
}

static void test_svg(const char *dir)
{
	double x[5] = {1, 2, 3, 4, 5}, y[5] = {5, 4, NAN, 2, 1}, lr[5] = {0.1, 0.1, 0.1, 0.1, 0.1};
	struct sup_plot_series s[2] = {{"loss", x, y, 5}, {"lr <&>", x, lr, 5}};
	char path[128], err[256] = "";
	snprintf(path, sizeof path, "%s/c.svg", dir);
	TU_CHECK(sup_plot_curves_svg(path, "run", s, 2, err, sizeof err) == SUP_OK);
	size_t n;
	char *t = (char *)iot_read_file(path, &n);
	if (t)
		t[n] = 0;
	TU_CHECK(t && strncmp(t, "<svg ", 5) == 0 && strstr(t, "</svg>\n") && count(t, "<polyline") == 2);
	TU_CHECK(t && strstr(t, "lr &lt;&amp;&gt;") && !strstr(t, "nan"));
	/* The first curve has 4 finite points; a constant curve still gets a range. */
	const char *pl = t ? strstr(t, "points=\"") : NULL;
	TU_CHECK(pl && count(pl, ",") >= 4);
	free(t);
	float xy[6] = {0, 0, 1, 1, 2, 0};
	int64_t lab[3] = {0, 1, 1};
	snprintf(path, sizeof path, "%s/s.svg", dir);
	TU_CHECK(sup_plot_scatter_svg(path, "map", xy, lab, 3, err, sizeof err) == SUP_OK);
	t = (char *)iot_read_file(path, &n);
	if (t)
		t[n] = 0;
	TU_CHECK(t && count(t, "<circle") == 3 + 2 && strstr(t, "#ff7f0e"));
	free(t);
	TU_CHECK(sup_plot_scatter_svg("/nonexistent/x.svg", "map", xy, lab, 3, err, sizeof err) == SUP_ERR_IO);
}

/* Three tight clusters in 10-D, far apart: in the map every point's nearest neighbour is in
 * its own cluster, and the clusters' centres are far apart relative to their spread. */
static void test_tsne(void)
{
	enum { N = 90, D = 10 };
	float x[N * D], y[N * 2];
	int64_t lab[N];
	struct sup_rng r = sup_rng_make(3, 0);
	for (int i = 0; i < N; i++) {
		lab[i] = i % 3;
		for (int k = 0; k < D; k++)
			x[i * D + k] = (float)((k == lab[i] ? 10.0 : 0.0) + 0.3 * sup_rng_normal(&r));
	}
	TU_CHECK(sup_tsne(y, x, N, D, 15, 400, 0) == SUP_OK);
	int good = 0;
	for (int i = 0; i < N; i++) {
		int best = -1;
		double bd = INFINITY;
		for (int j = 0; j < N; j++) {
			double dx = y[2 * i] - y[2 * j], dy = y[2 * i + 1] - y[2 * j + 1], d = dx * dx + dy * dy;
			if (j != i && d < bd) {
				bd = d;
				best = j;
			}
		}
		good += lab[best] == lab[i];
	}
	TU_CHECK_MSG(good == N, "%d of %d nearest neighbours in the same cluster", good, N);
	double c[3][2] = {{0}}, spread = 0;
	for (int i = 0; i < N; i++)
		for (int k = 0; k < 2; k++)
			c[lab[i]][k] += y[2 * i + k] / (N / 3);
	for (int i = 0; i < N; i++)
		spread += hypot(y[2 * i] - c[lab[i]][0], y[2 * i + 1] - c[lab[i]][1]) / N;
	for (int a = 0; a < 3; a++)
		for (int b = a + 1; b < 3; b++)
			TU_CHECK(hypot(c[a][0] - c[b][0], c[a][1] - c[b][1]) > 3 * spread);
	/* Deterministic. */
	float y2[N * 2];
	TU_CHECK(sup_tsne(y2, x, N, D, 15, 400, 0) == SUP_OK && memcmp(y, y2, sizeof y) == 0);
	TU_CHECK(sup_tsne(y2, x, 1, D, 15, 400, 0) == SUP_ERR_ARG);
}

int main(void)
{
	char dir[64];
	TU_CHECK(iot_tmpdir(dir, sizeof dir) != NULL);
	test_png(dir);
	test_svg(dir);
	test_tsne();
	iot_rmdir(dir);
	return tu_finish("io/plot");
}
