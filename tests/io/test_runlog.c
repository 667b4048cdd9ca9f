/* io layer: CRC-32C, TFRecord framing, Event protobufs, metrics.jsonl and event files. */
#define _POSIX_C_SOURCE 200809L

#include "iotest.h"
#include "selfsup/run.h"

#include <cjson/cJSON.h>
#include <math.h>

/* RFC 3720 appendix B.4 and the "123456789" check value of CRC-32C. */
/* A text file NUL-terminated (iot_read_file leaves room: its length is below its capacity). */
static char *read_text(const char *path)
{
	size_t n;
	unsigned char *p = iot_read_file(path, &n);
	if (p)
		p[n] = 0;
	return (char *)p;
}

static void test_crc32c(void)
{
	unsigned char buf[32];
	TU_CHECK(sup_crc32c(0, "123456789", 9) == 0xE3069283u);
	memset(buf, 0, 32);
	TU_CHECK(sup_crc32c(0, buf, 32) == 0x8A9136AAu);
	memset(buf, 0xff, 32);
	TU_CHECK(sup_crc32c(0, buf, 32) == 0x62A8AB43u);
	for (int i = 0; i < 32; i++)
		buf[i] = (unsigned char)i;
	TU_CHECK(sup_crc32c(0, buf, 32) == 0x46DD794Eu);
	for (int i = 0; i < 32; i++)
		buf[i] = (unsigned char)(31 - i);
	TU_CHECK(sup_crc32c(0, buf, 32) == 0x113FDB5Cu);
	TU_CHECK(sup_crc32c(0, "", 0) == 0);
	/* Continuing a CRC over a split buffer equals one pass. */
	TU_CHECK(sup_crc32c(sup_crc32c(0, "12345", 5), "6789", 4) == 0xE3069283u);
	/* Masking, written out: rotate right by 15, add 0xa282ead8. */
	uint32_t c = 0xE3069283u, masked = ((c >> 15) | (c << 17)) + 0xa282ead8u;
	TU_CHECK(sup_crc32c_masked("123456789", 9) == masked);
}

static uint32_t rd32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t rd64(const unsigned char *p)
{
	return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

static void test_framing(void)
{
	unsigned char out[64];
	size_t n = sup_tfrecord_frame(out, "hello", 5);
	TU_CHECK(n == 21);
	TU_CHECK(rd64(out) == 5);
	TU_CHECK(rd32(out + 8) == sup_crc32c_masked(out, 8));
	TU_CHECK(memcmp(out + 12, "hello", 5) == 0);
	TU_CHECK(rd32(out + 17) == sup_crc32c_masked("hello", 5));
	/* The length CRC of a 5-byte record, computed by hand from the vectors above. */
	unsigned char len8[8] = {5, 0, 0, 0, 0, 0, 0, 0};
	uint32_t c = sup_crc32c(0, len8, 8);
	TU_CHECK(rd32(out + 8) == ((c >> 15) | (c << 17)) + 0xa282ead8u);
}

/* Event{wall_time 1.0, step 5, summary{value{tag "a", simple_value 2.0}}} encoded by hand. */
static void test_event_bytes(void)
{
	static const unsigned char want[] = {0x09, 0,	 0,   0, 0,   0, 0, 0xF0, 0x3F, /* wall_time */
					     0x10, 0x05,				/* step */
					     0x2A, 0x0A,				/* summary, 10 bytes */
					     0x0A, 0x08,				/* value, 8 bytes */
					     0x0A, 0x01, 'a',				/* tag */
					     0x15, 0,	 0,   0, 0x40};			/* simple_value 2.0f */
	unsigned char buf[64];
	size_t n = sup_tb_encode_scalar(buf, sizeof buf, 1.0, 5, "a", 2.0f);
	TU_CHECK(n == sizeof want && memcmp(buf, want, n) == 0);
	/* The file_version event. */
	static const unsigned char ver[] = {0x09, 0,   0,   0,	 0,   0,   0,	0,   0x40, 0x1a, 13,  'b',
					    'r',  'a', 'i', 'n', '.', 'E', 'v', 'e', 'n',  't',	 ':', '2'};
	n = sup_tb_encode_scalar(buf, sizeof buf, 2.0, 0, NULL, 0);
	TU_CHECK(n == sizeof ver && memcmp(buf, ver, n) == 0);
	/* Large steps take multi-byte varints; a short buffer gives 0. */
	n = sup_tb_encode_scalar(buf, sizeof buf, 0, 300, "a", 0);
	TU_CHECK(buf[9] == 0x10 && buf[10] == 0xAC && buf[11] == 0x02);
	TU_CHECK(sup_tb_encode_scalar(buf, 10, 0, 300, "a", 0) == 0);
}

/* Minimal protobuf reader for the test: finds Summary.Value tag/simple_value in an Event. */
static uint64_t varint(const unsigned char **p)
{
	uint64_t v = 0;
	for (int s = 0;; s += 7) {
		unsigned char b = *(*p)++;
		v |= (uint64_t)(b & 0x7f) << s;
		if (!(b & 0x80))
			return v;
	}
}

static bool event_scalar(const unsigned char *p, size_t n, char *tag, float *value, int64_t *step, bool *version)
{
	const unsigned char *end = p + n;
	*version = false;
	*step = 0;
	tag[0] = 0;
	while (p < end) {
		uint64_t key = varint(&p);
		if (key == 0x09)
			p += 8;
		else if (key == 0x10)
			*step = (int64_t)varint(&p);
		else if (key == 0x1a) {
			uint64_t l = varint(&p);
			*version = l == 13 && memcmp(p, "brain.Event:2", 13) == 0;
			p += l;
		} else if (key == 0x2a) {
			varint(&p);
			if (varint(&p) != 0x0a)
				return false;
			varint(&p);
			if (varint(&p) != 0x0a)
				return false;
			uint64_t tl = varint(&p);
			memcpy(tag, p, tl);
			tag[tl] = 0;
			p += tl;
			if (varint(&p) != 0x15)
				return false;
			memcpy(value, p, 4);
			p += 4;
		} else
			return false;
	}
	return p == end;
}

static void test_runlog_files(void)
{
	char dir[64], path[512], err[256] = "";
	TU_CHECK(iot_tmpdir(dir, sizeof dir) != NULL);
	struct sup_runlog *lg = NULL;
	TU_CHECK_MSG(sup_runlog_open(&lg, dir, err, sizeof err) == SUP_OK, "%s", err);
	struct sup_metric m[] = {{"loss", 0.25}, {"lr", 1e-3}, {"weird \"name\"", NAN}};
	sup_runlog_write(lg, "step", 1, 10, 0.5, m, 3);
	sup_runlog_write(lg, "epoch", 1, 20, 1.0, m, 2);
	TU_CHECK(sup_runlog_close(lg, err, sizeof err) == SUP_OK);

	/* metrics.jsonl: every line one JSON object with the fields. */
	snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
	size_t n = 0;
	char *text = read_text(path);
	TU_CHECK(text != NULL);
	int lines = 0;
	for (char *save = NULL, *line = text ? strtok_r(text, "\n", &save) : NULL; line;
	     line = strtok_r(NULL, "\n", &save), lines++) {
		cJSON *j = cJSON_Parse(line);
		TU_CHECK_MSG(j && cJSON_IsObject(j), "%s", line);
		cJSON *loss = cJSON_GetObjectItem(j, "loss"), *kind = cJSON_GetObjectItem(j, "kind");
		TU_CHECK(cJSON_IsNumber(loss) && loss->valuedouble == 0.25);
		TU_CHECK(cJSON_IsString(kind));
		TU_CHECK(cJSON_GetObjectItem(j, "lr")->valuedouble == 1e-3);
		if (lines == 0) {
			TU_CHECK(cJSON_IsNull(cJSON_GetObjectItem(j, "weird \"name\"")));
			TU_CHECK(cJSON_GetObjectItem(j, "step")->valueint == 10);
		}
		cJSON_Delete(j);
	}
	TU_CHECK(lines == 2);
	free(text);

	/* The event file: valid framing and CRCs, version first, then the finite scalars. */
	DIR *d = opendir(dir);
	struct dirent *e;
	path[0] = 0;
	while (d && (e = readdir(d)))
		if (strstr(e->d_name, "tfevents"))
			snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
	if (d)
		closedir(d);
	unsigned char *ev = iot_read_file(path, &n);
	TU_CHECK_MSG(ev != NULL, "no event file in %s", dir);
	const char *want_tags[] = {"", "step/loss", "step/lr", "epoch/loss", "epoch/lr"};
	int rec = 0;
	for (size_t off = 0; ev && off < n; rec++) {
		TU_CHECK(off + 12 <= n);
		uint64_t len = rd64(ev + off);
		TU_CHECK(rd32(ev + off + 8) == sup_crc32c_masked(ev + off, 8));
		TU_CHECK(off + 16 + len <= n);
		TU_CHECK(rd32(ev + off + 12 + len) == sup_crc32c_masked(ev + off + 12, len));
		char tag[128];
		float v = 0;
		int64_t step;
		bool version;
		TU_CHECK(event_scalar(ev + off + 12, len, tag, &v, &step, &version));
		if (rec < 5)
			TU_CHECK_MSG(strcmp(tag, want_tags[rec]) == 0, "record %d: %s", rec, tag);
		TU_CHECK(version == (rec == 0));
		if (rec == 1)
			TU_CHECK(v == 0.25f && step == 10);
		off += 16 + len;
	}
	TU_CHECK(rec == 5); /* the NaN is in metrics.jsonl as null, not in TensorBoard */
	free(ev);
	iot_rmdir(dir);
	/* A folder that does not exist fails cleanly. */
	TU_CHECK(sup_runlog_open(&lg, "/nonexistent/dir", err, sizeof err) == SUP_ERR_IO && !lg);
}

static void test_json_numbers(void)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	double vals[] = {0.1, 1e-300, 123456789.0, -0.0, 5e-324, 0.30000000000000004};
	for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
		sup_json_write_number(f, vals[i]);
		fputc(' ', f);
	}
	sup_json_write_number(f, INFINITY);
	fputc(' ', f);
	sup_json_write_string(f, "a\"b\\c\nd\x01");
	fclose(f);
	char *p = buf;
	for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
		char *end;
		double v = strtod(p, &end);
		TU_CHECK(end != p && v == vals[i]);
		p = end + 1;
	}
	TU_CHECK(strncmp(p, "null \"a\\\"b\\\\c\\nd\\u0001\"", 24) == 0);
	TU_CHECK(strstr(buf, "0.1 ") == buf); /* shortest form */
	free(buf);
}

int main(void)
{
	test_crc32c();
	test_framing();
	test_event_bytes();
	test_runlog_files();
	test_json_numbers();
	return tu_finish("io/runlog");
}
