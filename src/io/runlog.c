/* Run logs: metrics.jsonl (JSON Lines, one object per record) and TensorBoard event files.
 *
 * An event file is a sequence of TFRecords (tensorflow/core/lib/io/record_writer.cc):
 *   uint64 length (LE) | uint32 masked_crc32c(length bytes) | data | uint32 masked_crc32c(data)
 * and each record's data is a tensorflow.Event protobuf (tensorflow/core/util/event.proto):
 *   Event { double wall_time = 1; int64 step = 2; string file_version = 3; Summary summary = 5; }
 *   Summary { repeated Value value = 1; }  Value { string tag = 1; float simple_value = 2; }
 * The protobuf is encoded by hand (varints, length-delimited fields, fixed 32/64-bit fields);
 * the first event of a file carries file_version "brain.Event:2", as TensorBoard expects. */
#define _POSIX_C_SOURCE 200809L

#include "io/io_internal.h"
#include "selfsup/run.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- CRC-32C ------------------------------------------------------------------------------ */

/* Bitwise reflected CRC with the Castagnoli polynomial (RFC 3720, appendix B.4): slow but
 * small, and logs are a few kilobytes per epoch. */
uint32_t sup_crc32c(uint32_t crc, const void *data, size_t n)
{
	const unsigned char *p = data;
	crc = ~crc;
	for (size_t i = 0; i < n; i++) {
		crc ^= p[i];
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
	}
	return ~crc;
}

uint32_t sup_crc32c_masked(const void *data, size_t n)
{
	uint32_t c = sup_crc32c(0, data, n);
	return ((c >> 15) | (c << 17)) + 0xa282ead8u;
}

static void put_u32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static void put_u64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

size_t sup_tfrecord_frame(unsigned char *out, const void *data, size_t n)
{
	put_u64(out, (uint64_t)n);
	put_u32(out + 8, sup_crc32c_masked(out, 8));
	memcpy(out + 12, data, n);
	put_u32(out + 12 + n, sup_crc32c_masked(data, n));
	return n + 16;
}

/* ---- protobuf ----------------------------------------------------------------------------- */

struct pb {
	unsigned char *p;
	size_t len, cap;
	bool overflow;
};

static void pb_byte(struct pb *b, unsigned char c)
{
	if (b->len < b->cap)
		b->p[b->len] = c;
	else
		b->overflow = true;
	b->len++;
}

static void pb_varint(struct pb *b, uint64_t v)
{
	while (v >= 0x80) {
		pb_byte(b, (unsigned char)(v | 0x80));
		v >>= 7;
	}
	pb_byte(b, (unsigned char)v);
}

static void pb_bytes(struct pb *b, const void *data, size_t n)
{
	for (size_t i = 0; i < n; i++)
		pb_byte(b, ((const unsigned char *)data)[i]);
}

static size_t varint_len(uint64_t v)
{
	size_t n = 1;
	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

size_t sup_tb_encode_scalar(unsigned char *out, size_t cap, double wall_time, int64_t step, const char *tag,
			    float value)
{
	struct pb b = {out, 0, cap, false};
	unsigned char fixed[8];
	uint64_t wt;
	memcpy(&wt, &wall_time, 8);
	pb_byte(&b, 0x09); /* field 1, fixed64 */
	put_u64(fixed, wt);
	pb_bytes(&b, fixed, 8);
	if (step != 0) {
		pb_byte(&b, 0x10); /* field 2, varint */
		pb_varint(&b, (uint64_t)step);
	}
	if (!tag) {
		static const char version[] = "brain.Event:2";
		pb_byte(&b, 0x1a); /* field 3, length-delimited */
		pb_varint(&b, sizeof version - 1);
		pb_bytes(&b, version, sizeof version - 1);
	} else {
		size_t tl = strlen(tag);
		size_t value_len = 1 + varint_len(tl) + tl + 1 + 4; /* Value{tag, simple_value} */
		size_t summary_len = 1 + varint_len(value_len) + value_len;
		pb_byte(&b, 0x2a); /* Event.summary, field 5 */
		pb_varint(&b, summary_len);
		pb_byte(&b, 0x0a); /* Summary.value, field 1 */
		pb_varint(&b, value_len);
		pb_byte(&b, 0x0a); /* Value.tag, field 1 */
		pb_varint(&b, tl);
		pb_bytes(&b, tag, tl);
		pb_byte(&b, 0x15); /* Value.simple_value, field 2, fixed32 */
		uint32_t fv;
		memcpy(&fv, &value, 4);
		put_u32(fixed, fv);
		pb_bytes(&b, fixed, 4);
	}
	return b.overflow ? 0 : b.len;
}

/* ---- JSON --------------------------------------------------------------------------------- */

void sup_json_write_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p == '\n')
			fputs("\\n", f);
		else if (*p < 0x20)
			fprintf(f, "\\u%04x", *p);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

void sup_json_write_number(FILE *f, double v)
{
	if (!isfinite(v)) {
		fputs("null", f);
		return;
	}
	char buf[40];
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(buf, sizeof buf, "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	fputs(buf, f);
}

/* ---- the run log -------------------------------------------------------------------------- */

struct sup_runlog {
	FILE *jsonl, *events;
	enum sup_status err;
	char msg[300];
};

static void runlog_check(struct sup_runlog *lg, FILE *f, const char *what)
{
	if (lg->err == SUP_OK && (ferror(f) || fflush(f) != 0)) {
		lg->err = SUP_ERR_IO;
		snprintf(lg->msg, sizeof lg->msg, "writing %s: %s", what, strerror(errno));
	}
}

static void events_write(struct sup_runlog *lg, double wall, int64_t step, const char *tag, float v)
{
	unsigned char ev[512], rec[512 + 16];
	size_t n = sup_tb_encode_scalar(ev, sizeof ev, wall, step, tag, v);
	if (!n)
		return; /* a tag too long for the buffer is left out of TensorBoard, not of metrics.jsonl */
	size_t m = sup_tfrecord_frame(rec, ev, n);
	fwrite(rec, 1, m, lg->events);
}

static double wall_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

enum sup_status sup_runlog_open(struct sup_runlog **out, const char *dir, char *err, size_t err_size)
{
	*out = NULL;
	struct sup_runlog *lg = calloc(1, sizeof *lg);
	if (!lg)
		return sup_errf(err, err_size, SUP_ERR_NOMEM, "out of memory");
	char path[4096], host[64] = "localhost";
	gethostname(host, sizeof host - 1);
	host[sizeof host - 1] = 0;
	snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
	lg->jsonl = fopen(path, "a");
	if (!lg->jsonl) {
		free(lg);
		return sup_errf(err, err_size, SUP_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
	}
	/* TensorBoard reads every file whose name contains "tfevents"; one per open. A second open in
	 * the same second by the same process (training, then its evaluation) must not truncate the
	 * first file: created exclusively, with a numbered suffix when the name is taken. */
	int len = snprintf(path, sizeof path, "%s/events.out.tfevents.%lld.%s.%ld", dir, (long long)time(NULL),
			   host, (long)getpid());
	lg->events = fopen(path, "wbx");
	for (int k = 1; !lg->events && errno == EEXIST && k < 100 && len > 0 && (size_t)len < sizeof path - 4; k++) {
		snprintf(path + len, sizeof path - (size_t)len, ".%d", k);
		lg->events = fopen(path, "wbx");
	}
	if (!lg->events) {
		fclose(lg->jsonl);
		free(lg);
		return sup_errf(err, err_size, SUP_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
	}
	events_write(lg, wall_now(), 0, NULL, 0);
	runlog_check(lg, lg->events, "the event file");
	*out = lg;
	return SUP_OK;
}

void sup_runlog_write(struct sup_runlog *lg, const char *kind, int64_t epoch, int64_t step, double seconds,
		      const struct sup_metric *m, int n)
{
	FILE *f = lg->jsonl;
	fprintf(f, "{\"kind\":");
	sup_json_write_string(f, kind);
	fprintf(f, ",\"epoch\":%lld,\"step\":%lld,\"seconds\":", (long long)epoch, (long long)step);
	sup_json_write_number(f, seconds);
	double wall = wall_now();
	for (int i = 0; i < n; i++) {
		fputc(',', f);
		sup_json_write_string(f, m[i].name);
		fputc(':', f);
		sup_json_write_number(f, m[i].value);
		char tag[160];
		snprintf(tag, sizeof tag, "%s/%s", kind, m[i].name);
		if (isfinite(m[i].value))
			events_write(lg, wall, step, tag, (float)m[i].value);
	}
	fputs("}\n", f);
	runlog_check(lg, lg->jsonl, "metrics.jsonl");
	runlog_check(lg, lg->events, "the event file");
}

enum sup_status sup_runlog_close(struct sup_runlog *lg, char *err, size_t err_size)
{
	if (!lg)
		return SUP_OK;
	runlog_check(lg, lg->jsonl, "metrics.jsonl");
	runlog_check(lg, lg->events, "the event file");
	if (fclose(lg->jsonl) != 0 && lg->err == SUP_OK) {
		lg->err = SUP_ERR_IO;
		snprintf(lg->msg, sizeof lg->msg, "closing metrics.jsonl: %s", strerror(errno));
	}
	if (fclose(lg->events) != 0 && lg->err == SUP_OK) {
		lg->err = SUP_ERR_IO;
		snprintf(lg->msg, sizeof lg->msg, "closing the event file: %s", strerror(errno));
	}
	enum sup_status s = lg->err;
	if (s != SUP_OK)
		sup_errf(err, err_size, s, "%s", lg->msg);
	free(lg);
	return s;
}
