/* Typed configs: a schema of dotted keys, YAML documents (Debian's libyaml, event API) and
 * key=value overrides, strict checking with "did you mean" suggestions, and a YAML dump that
 * reads back to the same values. Contracts: include/selfsup/run.h. */
#define _POSIX_C_SOURCE 200809L

#include "io/io_internal.h"
#include "selfsup/run.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

struct cfg_entry {
	struct sup_cfg_key key; /* the schema entry (strings are static schema memory) */
	int64_t i;
	double f;
	bool b;
	int choice; /* enum: index into choices */
	char *text; /* canonical text of the value (heap) */
};

struct sup_config {
	int n;
	struct cfg_entry *e;
};

static const struct sup_cfg_key common_keys[] = {
    {"data", SUP_CFG_STRING, "", NULL,
     "data set: a registered name (fashion-mnist, synthetic) or a folder; empty: the method's default", NULL, 0},
    {"epochs", SUP_CFG_INT, "10", NULL, "passes over the training set", NULL, 0},
    {"steps", SUP_CFG_INT, "0", NULL,
     "stop after this many optimizer steps in total (0: all epochs); the schedule still spans all epochs", NULL,
     SUP_CFG_RUNCTL},
    {"batch_size", SUP_CFG_INT, "256", NULL, "examples per optimizer step", NULL, 0},
    {"lr", SUP_CFG_FLOAT, "0.001", NULL, "base learning rate (peak of the schedule)", NULL, 0},
    {"schedule", SUP_CFG_ENUM, "cosine", "const|cosine", "learning-rate schedule after warm-up",
     "cosine: SGDR without restarts, Loshchilov & Hutter 2017, eq. 5", 0},
    {"warmup_epochs", SUP_CFG_INT, "0", NULL, "epochs of linear warm-up", "Goyal et al. 2017, sec. 2.2", 0},
    {"seed", SUP_CFG_INT, "0", NULL, "seed of initial weights, data order, augmentations", NULL, 0},
    {"threads", SUP_CFG_INT, "0", NULL, "OpenMP threads (0: OMP_NUM_THREADS or all cores)", NULL, 0},
    {"out", SUP_CFG_STRING, "", NULL, "run folder (empty: runs/<method>-<data>-<YYYYmmdd-HHMMSS>)", NULL,
     SUP_CFG_RUNCTL},
    {"eval", SUP_CFG_STRING, "", NULL, "comma-separated evaluation protocols run after training", NULL, 0},
    {"seeds", SUP_CFG_INT, "1", NULL, "independent runs with seeds seed, seed+1, ... (metrics get _std)", NULL,
     SUP_CFG_RUNCTL},
    {"resume", SUP_CFG_STRING, "", NULL, "checkpoint (or run folder) to continue from", NULL, SUP_CFG_RUNCTL},
    {"log_every", SUP_CFG_INT, "50", NULL, "optimizer steps between metrics.jsonl records", NULL, SUP_CFG_RUNCTL},
    {"dist.check_every", SUP_CFG_INT, "0", NULL,
     "mpirun runs: steps between checks that every process holds the same state (0: never)", NULL,
     SUP_CFG_RUNCTL},
    {"dist.timeout", SUP_CFG_FLOAT, "600", NULL,
     "mpirun runs: seconds a collective waits for the other processes before the job is aborted (0: forever)",
     NULL, SUP_CFG_RUNCTL},
    {NULL, 0, NULL, NULL, NULL, NULL, 0},
};

const struct sup_cfg_key *sup_config_common_keys(void)
{
	return common_keys;
}

/* ---- helpers ------------------------------------------------------------------------------ */

int sup_edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > 256 || lb > 256)
		return (int)(la > lb ? la : lb);
	int row[257];
	for (size_t j = 0; j <= lb; j++)
		row[j] = (int)j;
	for (size_t i = 1; i <= la; i++) {
		int diag = row[0];
		row[0] = (int)i;
		for (size_t j = 1; j <= lb; j++) {
			int up = row[j];
			int sub = diag + (a[i - 1] != b[j - 1]);
			int best = up + 1 < row[j - 1] + 1 ? up + 1 : row[j - 1] + 1;
			row[j] = sub < best ? sub : best;
			diag = up;
		}
	}
	return row[lb];
}

static bool key_name_ok(const char *k)
{
	if (!k || !*k)
		return false;
	bool seg_start = true;
	for (const char *p = k; *p; p++) {
		if (*p == '.') {
			if (seg_start)
				return false;
			seg_start = true;
		} else if (islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '_') {
			seg_start = false;
		} else {
			return false;
		}
	}
	return !seg_start;
}

static const char *type_expect(const struct sup_cfg_key *k)
{
	switch (k->type) {
	case SUP_CFG_INT: return "an integer";
	case SUP_CFG_FLOAT: return "a finite number";
	case SUP_CFG_BOOL: return "true or false";
	default: return "a string";
	}
}

/* Index of value in "a|b|c", or -1. */
static int choice_index(const char *choices, const char *v)
{
	int idx = 0;
	size_t vl = strlen(v);
	for (const char *p = choices; p;) {
		const char *bar = strchr(p, '|');
		size_t len = bar ? (size_t)(bar - p) : strlen(p);
		if (len == vl && strncmp(p, v, len) == 0)
			return idx;
		idx++;
		p = bar ? bar + 1 : NULL;
	}
	return -1;
}

/* Writes the shortest %.*g form of v that strtod reads back to exactly v. */
static void format_float(char *buf, size_t size, double v)
{
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(buf, size, "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			return;
	}
}

/* Parses text into the entry's typed value (not stored on error). */
static enum sup_status parse_value(struct cfg_entry *e, const char *v, char *err, size_t err_size)
{
	const struct sup_cfg_key *k = &e->key;
	char *end = NULL, canon[64];
	const char *text = v;
	errno = 0;
	switch (k->type) {
	case SUP_CFG_INT: {
		long long x = *v ? strtoll(v, &end, 10) : 0;
		if (!*v || *end || errno == ERANGE || isspace((unsigned char)*v))
			goto bad;
		e->i = x;
		snprintf(canon, sizeof canon, "%lld", x);
		text = canon;
		break;
	}
	case SUP_CFG_FLOAT: {
		double x = *v ? strtod(v, &end) : 0;
		if (!*v || *end || !isfinite(x) || isspace((unsigned char)*v))
			goto bad;
		e->f = x;
		format_float(canon, sizeof canon, x);
		text = canon;
		break;
	}
	case SUP_CFG_BOOL: {
		static const char *const yes[] = {"true", "yes", "on", "1"}, *const no[] = {"false", "no", "off", "0"};
		int r = -1;
		for (int i = 0; i < 4; i++) {
			if (strcasecmp(v, yes[i]) == 0)
				r = 1;
			if (strcasecmp(v, no[i]) == 0)
				r = 0;
		}
		if (r < 0)
			goto bad;
		e->b = r;
		text = r ? "true" : "false";
		break;
	}
	case SUP_CFG_ENUM: {
		int idx = choice_index(k->choices, v);
		if (idx < 0)
			return sup_errf(err, err_size, SUP_ERR_ARG, "config key '%s' expects one of %s, got '%s'",
					   k->key, k->choices, v);
		e->choice = idx;
		break;
	}
	default: break;
	}
	char *dup = strdup(text);
	if (!dup)
		return sup_errf(err, err_size, SUP_ERR_NOMEM, "out of memory");
	free(e->text);
	e->text = dup;
	return SUP_OK;
bad:
	return sup_errf(err, err_size, SUP_ERR_ARG, "config key '%s' expects %s, got '%s'", k->key, type_expect(k),
			   v);
}

static struct cfg_entry *find_entry(const struct sup_config *c, const char *key)
{
	for (int i = 0; i < c->n; i++)
		if (strcmp(c->e[i].key.key, key) == 0)
			return &c->e[i];
	return NULL;
}

/* ---- life cycle --------------------------------------------------------------------------- */

void sup_config_free(struct sup_config *c)
{
	if (!c)
		return;
	for (int i = 0; i < c->n; i++)
		free(c->e[i].text);
	free(c->e);
	free(c);
}

static enum sup_status add_key(struct sup_config *c, const struct sup_cfg_key *k, char *err, size_t err_size)
{
	if (!key_name_ok(k->key) || (unsigned)k->type >= SUP_CFG_TYPE_COUNT || !k->def ||
	    (k->type == SUP_CFG_ENUM && !k->choices))
		return sup_errf(err, err_size, SUP_ERR_ARG, "schema: malformed key '%s'",
				   k->key ? k->key : "(null)");
	struct cfg_entry *e = find_entry(c, k->key);
	if (e && e->key.type != k->type)
		return sup_errf(err, err_size, SUP_ERR_ARG, "schema: key '%s' redefined with another type", k->key);
	if (!e) {
		/* A leaf may not also be a group ("a" and "a.b"): YAML could not express both. */
		size_t kl = strlen(k->key);
		for (int i = 0; i < c->n; i++) {
			const char *o = c->e[i].key.key;
			size_t ol = strlen(o);
			if ((ol < kl && strncmp(o, k->key, ol) == 0 && k->key[ol] == '.') ||
			    (kl < ol && strncmp(o, k->key, kl) == 0 && o[kl] == '.'))
				return sup_errf(err, err_size, SUP_ERR_ARG, "schema: '%s' is both a key and a group",
						   kl < ol ? k->key : o);
		}
		e = &c->e[c->n++];
		memset(e, 0, sizeof *e);
	}
	e->key = *k;
	enum sup_status s = parse_value(e, k->def, err, err_size);
	if (s != SUP_OK)
		sup_io_prefix(err, err_size, "schema default");
	return s;
}

enum sup_status sup_config_new(struct sup_config **out, const struct sup_cfg_key *const *schemas, int n_schemas,
			       char *err, size_t err_size)
{
	*out = NULL;
	int total = 0;
	for (int s = 0; s < n_schemas; s++)
		for (const struct sup_cfg_key *k = schemas[s]; k && k->key; k++)
			total++;
	struct sup_config *c = calloc(1, sizeof *c);
	if (!c || !(c->e = calloc((size_t)(total ? total : 1), sizeof *c->e))) {
		free(c);
		return sup_errf(err, err_size, SUP_ERR_NOMEM, "out of memory");
	}
	for (int s = 0; s < n_schemas; s++) {
		for (const struct sup_cfg_key *k = schemas[s]; k && k->key; k++) {
			enum sup_status st = add_key(c, k, err, err_size);
			if (st != SUP_OK) {
				sup_config_free(c);
				return st;
			}
		}
	}
	*out = c;
	return SUP_OK;
}

/* ---- setting ------------------------------------------------------------------------------ */

enum sup_status sup_config_set(struct sup_config *c, const char *key, const char *value, char *err, size_t err_size)
{
	struct cfg_entry *e = find_entry(c, key);
	if (!e) {
		const char *best = NULL;
		int bd = 0;
		for (int i = 0; i < c->n; i++) {
			int d = sup_edit_distance(key, c->e[i].key.key);
			if (!best || d < bd) {
				best = c->e[i].key.key;
				bd = d;
			}
		}
		if (best)
			return sup_errf(err, err_size, SUP_ERR_NOT_FOUND,
					   "unknown config key '%s' (did you mean '%s'?)", key, best);
		return sup_errf(err, err_size, SUP_ERR_NOT_FOUND, "unknown config key '%s'", key);
	}
	return parse_value(e, value, err, err_size);
}

enum sup_status sup_config_override(struct sup_config *c, const char *kv, char *err, size_t err_size)
{
	const char *eq = strchr(kv, '=');
	if (!eq || eq == kv)
		return sup_errf(err, err_size, SUP_ERR_ARG, "expected key=value, got '%s'", kv);
	char key[256];
	size_t kl = (size_t)(eq - kv);
	if (kl >= sizeof key)
		return sup_errf(err, err_size, SUP_ERR_ARG, "config key too long: '%.40s...'", kv);
	memcpy(key, kv, kl);
	key[kl] = 0;
	return sup_config_set(c, key, eq + 1, err, err_size);
}

void sup_config_reset_flagged(struct sup_config *c, unsigned mask)
{
	for (int i = 0; i < c->n; i++)
		if (c->e[i].key.flags & mask)
			(void)parse_value(&c->e[i], c->e[i].key.def, NULL, 0); /* defaults were checked at creation */
}

/* ---- YAML --------------------------------------------------------------------------------- */

/* A plain scalar that YAML reads as null. */
static bool is_null(const yaml_event_t *ev)
{
	if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	const char *v = (const char *)ev->data.scalar.value;
	return !*v || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 || strcmp(v, "Null") == 0 || strcmp(v, "NULL") == 0;
}

struct yaml_walk {
	struct sup_config *c;
	yaml_parser_t p;
	const char *origin;
	char *err;
	size_t err_size;
};

static enum sup_status yaml_next(struct yaml_walk *w, yaml_event_t *ev)
{
	if (!yaml_parser_parse(&w->p, ev))
		return sup_errf(w->err, w->err_size, SUP_ERR_FORMAT, "%s:%zu: YAML error: %s", w->origin,
				   w->p.problem_mark.line + 1, w->p.problem ? w->p.problem : "malformed");
	return SUP_OK;
}

/* Walks one mapping (its MAPPING_START already consumed) whose keys extend prefix. */
static enum sup_status yaml_mapping(struct yaml_walk *w, const char *prefix, int depth)
{
	enum sup_status s = SUP_OK;
	for (;;) {
		yaml_event_t kev, vev;
		if ((s = yaml_next(w, &kev)) != SUP_OK)
			return s;
		size_t line = kev.start_mark.line + 1;
		if (kev.type == YAML_MAPPING_END_EVENT) {
			yaml_event_delete(&kev);
			return SUP_OK;
		}
		if (kev.type != YAML_SCALAR_EVENT) {
			yaml_event_delete(&kev);
			return sup_errf(w->err, w->err_size, SUP_ERR_FORMAT,
					   "%s:%zu: mapping keys must be plain names", w->origin, line);
		}
		char key[256];
		int kl = snprintf(key, sizeof key, "%s%s", prefix, (const char *)kev.data.scalar.value);
		yaml_event_delete(&kev);
		if (kl >= (int)sizeof key)
			return sup_errf(w->err, w->err_size, SUP_ERR_FORMAT, "%s:%zu: key too long", w->origin,
					   line);
		if ((s = yaml_next(w, &vev)) != SUP_OK)
			return s;
		line = vev.start_mark.line + 1;
		if (vev.type == YAML_SCALAR_EVENT) {
			struct cfg_entry *e = find_entry(w->c, key);
			const char *v = (const char *)vev.data.scalar.value;
			if (e && is_null(&vev)) {
				if (e->key.type == SUP_CFG_STRING)
					v = "";
				else
					v = "null";
			}
			s = sup_config_set(w->c, key, v, w->err, w->err_size);
		} else if (vev.type == YAML_MAPPING_START_EVENT && depth < 16) {
			if (find_entry(w->c, key))
				s = sup_errf(w->err, w->err_size, SUP_ERR_ARG,
						"config key '%s' takes a value, not a mapping", key);
			else if (kl + 2 >= (int)sizeof key)
				s = sup_errf(w->err, w->err_size, SUP_ERR_FORMAT, "%s:%zu: key too long", w->origin,
						line);
			else {
				key[kl] = '.';
				key[kl + 1] = 0;
				s = yaml_mapping(w, key, depth + 1);
				yaml_event_delete(&vev);
				if (s != SUP_OK)
					return s;
				continue;
			}
		} else if (vev.type == YAML_ALIAS_EVENT) {
			s = sup_errf(w->err, w->err_size, SUP_ERR_FORMAT, "%s:%zu: YAML aliases are not supported",
					w->origin, line);
		} else {
			s = sup_errf(w->err, w->err_size, SUP_ERR_FORMAT,
					"%s:%zu: config key '%s' takes a single value (lists are not supported)",
					w->origin, line, key);
		}
		yaml_event_delete(&vev);
		if (s != SUP_OK) {
			if (s != SUP_ERR_FORMAT) {
				char where[300];
				snprintf(where, sizeof where, "%s:%zu", w->origin, line);
				sup_io_prefix(w->err, w->err_size, where);
			}
			return s;
		}
	}
}

/* Expects one event of type t; anything else is a structural error. */
static enum sup_status yaml_expect(struct yaml_walk *w, yaml_event_type_t t, const char *what, bool *got_other,
				   yaml_event_t *ev)
{
	enum sup_status s = yaml_next(w, ev);
	if (s != SUP_OK)
		return s;
	if (ev->type == t)
		return SUP_OK;
	if (got_other) {
		*got_other = true;
		return SUP_OK;
	}
	size_t line = ev->start_mark.line + 1;
	yaml_event_delete(ev);
	return sup_errf(w->err, w->err_size, SUP_ERR_FORMAT, "%s:%zu: expected %s", w->origin, line, what);
}

enum sup_status sup_config_load_yaml(struct sup_config *c, const char *text, size_t len, const char *origin, char *err,
				     size_t err_size)
{
	struct yaml_walk w = {.c = c, .origin = origin ? origin : "config", .err = err, .err_size = err_size};
	if (!yaml_parser_initialize(&w.p))
		return sup_errf(err, err_size, SUP_ERR_NOMEM, "out of memory");
	yaml_parser_set_input_string(&w.p, (const unsigned char *)text, len);
	yaml_event_t ev;
	bool other = false;
	enum sup_status s = yaml_expect(&w, YAML_STREAM_START_EVENT, "a YAML stream", NULL, &ev);
	if (s != SUP_OK)
		goto done;
	yaml_event_delete(&ev);
	if ((s = yaml_expect(&w, YAML_DOCUMENT_START_EVENT, "a document", &other, &ev)) != SUP_OK)
		goto done;
	bool empty = other && ev.type == YAML_STREAM_END_EVENT; /* only comments */
	yaml_event_delete(&ev);
	if (empty)
		goto done;
	if (other) {
		s = sup_errf(err, err_size, SUP_ERR_FORMAT, "%s: expected a YAML document", w.origin);
		goto done;
	}
	other = false;
	if ((s = yaml_expect(&w, YAML_MAPPING_START_EVENT, "a mapping", &other, &ev)) != SUP_OK)
		goto done;
	bool null_doc = other && ev.type == YAML_SCALAR_EVENT && is_null(&ev);
	size_t line = ev.start_mark.line + 1;
	yaml_event_delete(&ev);
	if (other && !null_doc) {
		s = sup_errf(err, err_size, SUP_ERR_FORMAT, "%s:%zu: a config is a mapping of keys to values",
				w.origin, line);
		goto done;
	}
	if (!other && (s = yaml_mapping(&w, "", 0)) != SUP_OK)
		goto done;
	if ((s = yaml_expect(&w, YAML_DOCUMENT_END_EVENT, "the end of the document", NULL, &ev)) != SUP_OK)
		goto done;
	yaml_event_delete(&ev);
	if ((s = yaml_expect(&w, YAML_STREAM_END_EVENT, "a single document", NULL, &ev)) != SUP_OK)
		goto done;
	yaml_event_delete(&ev);
done:
	yaml_parser_delete(&w.p);
	return s;
}

enum sup_status sup_config_load_yaml_file(struct sup_config *c, const char *path, char *err, size_t err_size)
{
	FILE *f;
	uint64_t size;
	enum sup_status s = sup_io_open_read(&f, &size, path, err, err_size);
	if (s != SUP_OK)
		return s;
	if (size > (1u << 20)) {
		fclose(f);
		return sup_errf(err, err_size, SUP_ERR_FORMAT, "%s: config larger than 1 MiB", path);
	}
	char *buf = malloc((size_t)size + 1);
	if (!buf) {
		fclose(f);
		return sup_errf(err, err_size, SUP_ERR_NOMEM, "out of memory");
	}
	s = sup_io_read_exact(f, buf, (size_t)size, err, err_size);
	fclose(f);
	if (s == SUP_OK)
		s = sup_config_load_yaml(c, buf, (size_t)size, path, err, err_size);
	else
		sup_io_prefix(err, err_size, path);
	free(buf);
	return s;
}

/* ---- dump --------------------------------------------------------------------------------- */

struct strbuf {
	char *p;
	size_t len, cap;
	bool oom;
};

static void sb_printf(struct strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(struct strbuf *b, const char *fmt, ...)
{
	if (b->oom)
		return;
	for (;;) {
		va_list ap;
		va_start(ap, fmt);
		int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->oom = true;
			return;
		}
		if ((size_t)n < b->cap - b->len) {
			b->len += (size_t)n;
			return;
		}
		size_t cap = b->cap * 2 + (size_t)n;
		char *q = realloc(b->p, cap);
		if (!q) {
			b->oom = true;
			return;
		}
		b->p = q;
		b->cap = cap;
	}
}

static void sb_quoted(struct strbuf *b, const char *s)
{
	sb_printf(b, "\"");
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			sb_printf(b, "\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			sb_printf(b, "\\x%02x", *p);
		else
			sb_printf(b, "%c", *p);
	}
	sb_printf(b, "\"");
}

static void emit_leaf(struct strbuf *b, const struct cfg_entry *e, const char *name, int depth)
{
	sb_printf(b, "%*s%s: ", 2 * depth, "", name);
	bool quote = e->key.type == SUP_CFG_STRING ||
		     (e->key.type == SUP_CFG_ENUM && choice_index("~|null|Null|NULL|", e->text) >= 0);
	if (quote)
		sb_quoted(b, e->text);
	else
		sb_printf(b, "%s", e->text);
	if (e->key.help || e->key.cite)
		sb_printf(b, "  # %s%s%s%s", e->key.help ? e->key.help : "", e->key.help && e->key.cite ? " [" : "",
			  e->key.cite ? e->key.cite : "", e->key.help && e->key.cite ? "]" : "");
	sb_printf(b, "\n");
}

/* Emits the keys under prefix (which ends in '.' or is empty) in schema order; a group is
 * emitted where its first key appears. */
static void emit_group(struct strbuf *b, const struct sup_config *c, const char *prefix, int depth)
{
	size_t pl = strlen(prefix);
	for (int i = 0; i < c->n; i++) {
		const char *k = c->e[i].key.key;
		if (strncmp(k, prefix, pl) != 0)
			continue;
		const char *rest = k + pl, *dot = strchr(rest, '.');
		if (!dot) {
			emit_leaf(b, &c->e[i], rest, depth);
			continue;
		}
		size_t seg = (size_t)(dot - rest);
		bool seen = false;
		for (int j = 0; j < i && !seen; j++)
			seen = strncmp(c->e[j].key.key, k, pl + seg + 1) == 0;
		if (seen)
			continue;
		char sub[256];
		snprintf(sub, sizeof sub, "%.*s", (int)(pl + seg + 1), k);
		sb_printf(b, "%*s%.*s:\n", 2 * depth, "", (int)seg, rest);
		emit_group(b, c, sub, depth + 1);
	}
}

char *sup_config_to_yaml(const struct sup_config *c)
{
	struct strbuf b = {.p = malloc(1024), .cap = 1024};
	if (!b.p)
		return NULL;
	b.p[0] = 0;
	sb_printf(&b, "# selfsup resolved config: `selfsup train METHOD this.yaml` repeats the run\n");
	emit_group(&b, c, "", 0);
	if (b.oom) {
		free(b.p);
		return NULL;
	}
	return b.p;
}

/* ---- reads -------------------------------------------------------------------------------- */

static const struct cfg_entry *must(const struct sup_config *c, const char *key, enum sup_cfg_type t)
{
	const struct cfg_entry *e = find_entry(c, key);
	if (!e || (e->key.type != t && !(t == SUP_CFG_STRING && e->key.type == SUP_CFG_ENUM))) {
		char msg[300];
		snprintf(msg, sizeof msg, "config key '%s' read with the wrong type or absent from the schema", key);
		sup_panic(__FILE__, __LINE__, msg);
	}
	return e;
}

int64_t sup_config_int(const struct sup_config *c, const char *key)
{
	return must(c, key, SUP_CFG_INT)->i;
}
double sup_config_float(const struct sup_config *c, const char *key)
{
	return must(c, key, SUP_CFG_FLOAT)->f;
}
bool sup_config_bool(const struct sup_config *c, const char *key)
{
	return must(c, key, SUP_CFG_BOOL)->b;
}
const char *sup_config_str(const struct sup_config *c, const char *key)
{
	return must(c, key, SUP_CFG_STRING)->text;
}
int sup_config_enum(const struct sup_config *c, const char *key)
{
	return must(c, key, SUP_CFG_ENUM)->choice;
}
bool sup_config_has(const struct sup_config *c, const char *key)
{
	return find_entry(c, key) != NULL;
}
int sup_config_n_keys(const struct sup_config *c)
{
	return c->n;
}
const struct sup_cfg_key *sup_config_key_at(const struct sup_config *c, int i)
{
	SUP_ASSERT(i >= 0 && i < c->n);
	return &c->e[i].key;
}
const char *sup_config_value_text(const struct sup_config *c, int i)
{
	SUP_ASSERT(i >= 0 && i < c->n);
	return c->e[i].text;
}
