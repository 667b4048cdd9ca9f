/* io layer: typed configs (schema, YAML, overrides, suggestions, dump round trip). */
#define _POSIX_C_SOURCE 200809L

#include "iotest.h"
#include "selfsup/run.h"

static const struct sup_cfg_key base_keys[] = {
    {"epochs", SUP_CFG_INT, "10", NULL, "passes", NULL, 0},
    {"lr", SUP_CFG_FLOAT, "0.001", NULL, "learning rate", "paper, sec. 1", 0},
    {"name", SUP_CFG_STRING, "", NULL, "a name", NULL, 0},
    {"optim.kind", SUP_CFG_ENUM, "sgd", "sgd|lars|adam", "optimizer", NULL, 0},
    {"optim.momentum", SUP_CFG_FLOAT, "0.9", NULL, "momentum", NULL, 0},
    {"aug.color.strength", SUP_CFG_FLOAT, "0.5", NULL, "jitter strength", "SimCLR App. A", 0},
    {"aug.flip", SUP_CFG_BOOL, "true", NULL, "horizontal flips", NULL, 0},
    {"out", SUP_CFG_STRING, "", NULL, "folder", NULL, SUP_CFG_RUNCTL},
    {NULL, 0, NULL, NULL, NULL, NULL, 0},
};

/* A method redefining a common key's default. */
static const struct sup_cfg_key method_keys[] = {
    {"lr", SUP_CFG_FLOAT, "0.3", NULL, "SimCLR base lr", "SimCLR App. B.1", 0},
    {"temperature", SUP_CFG_FLOAT, "0.5", NULL, "tau", NULL, 0},
    {NULL, 0, NULL, NULL, NULL, NULL, 0},
};

static struct sup_config *make(void)
{
	const struct sup_cfg_key *s[] = {base_keys, method_keys};
	struct sup_config *c = NULL;
	char err[256] = "";
	TU_CHECK_MSG(sup_config_new(&c, s, 2, err, sizeof err) == SUP_OK, "%s", err);
	return c;
}

static void test_defaults_and_types(void)
{
	struct sup_config *c = make();
	TU_CHECK(sup_config_int(c, "epochs") == 10);
	TU_CHECK(sup_config_float(c, "lr") == 0.3); /* the later schema wins */
	TU_CHECK(sup_config_bool(c, "aug.flip"));
	TU_CHECK(strcmp(sup_config_str(c, "optim.kind"), "sgd") == 0 && sup_config_enum(c, "optim.kind") == 0);
	TU_CHECK(sup_config_n_keys(c) == 9);
	char err[256] = "";
	TU_CHECK(sup_config_override(c, "epochs=7", err, sizeof err) == SUP_OK && sup_config_int(c, "epochs") == 7);
	TU_CHECK(sup_config_override(c, "optim.kind=adam", err, sizeof err) == SUP_OK &&
		 sup_config_enum(c, "optim.kind") == 2);
	TU_CHECK(sup_config_override(c, "aug.flip=no", err, sizeof err) == SUP_OK && !sup_config_bool(c, "aug.flip"));
	TU_CHECK(sup_config_override(c, "lr=1e-3", err, sizeof err) == SUP_OK && sup_config_float(c, "lr") == 1e-3);
	TU_CHECK(sup_config_override(c, "name=a=b c", err, sizeof err) == SUP_OK &&
		 strcmp(sup_config_str(c, "name"), "a=b c") == 0);
	sup_config_free(c);
}

static void test_errors(void)
{
	struct sup_config *c = make();
	char err[256] = "";
	TU_CHECK(sup_config_override(c, "epochz=3", err, sizeof err) == SUP_ERR_NOT_FOUND);
	TU_CHECK_MSG(strcmp(err, "unknown config key 'epochz' (did you mean 'epochs'?)") == 0, "%s", err);
	TU_CHECK(sup_config_override(c, "optim.momentun=0.5", err, sizeof err) == SUP_ERR_NOT_FOUND);
	TU_CHECK_MSG(strstr(err, "did you mean 'optim.momentum'") != NULL, "%s", err);
	TU_CHECK(sup_config_override(c, "epochs=ten", err, sizeof err) == SUP_ERR_ARG);
	TU_CHECK_MSG(strcmp(err, "config key 'epochs' expects an integer, got 'ten'") == 0, "%s", err);
	TU_CHECK(sup_config_override(c, "epochs=", err, sizeof err) == SUP_ERR_ARG);
	TU_CHECK(sup_config_override(c, "epochs=3.5", err, sizeof err) == SUP_ERR_ARG);
	TU_CHECK(sup_config_override(c, "epochs=99999999999999999999", err, sizeof err) == SUP_ERR_ARG);
	TU_CHECK(sup_config_override(c, "lr=fast", err, sizeof err) == SUP_ERR_ARG);
	TU_CHECK_MSG(strstr(err, "'lr' expects a finite number") != NULL, "%s", err);
	TU_CHECK(sup_config_override(c, "lr=nan", err, sizeof err) == SUP_ERR_ARG);
	TU_CHECK(sup_config_override(c, "aug.flip=maybe", err, sizeof err) == SUP_ERR_ARG);
	TU_CHECK(sup_config_override(c, "optim.kind=adamw", err, sizeof err) == SUP_ERR_ARG);
	TU_CHECK_MSG(strstr(err, "expects one of sgd|lars|adam, got 'adamw'") != NULL, "%s", err);
	TU_CHECK(sup_config_override(c, "noequals", err, sizeof err) == SUP_ERR_ARG);
	/* Nothing changed by the failures. */
	TU_CHECK(sup_config_int(c, "epochs") == 10 && sup_config_float(c, "lr") == 0.3);
	TU_CHECK(sup_edit_distance("kitten", "sitting") == 3 && sup_edit_distance("", "abc") == 3 &&
		 sup_edit_distance("same", "same") == 0);
	sup_config_free(c);

	/* Malformed schemas. */
	static const struct sup_cfg_key bad_default[] = {{"a", SUP_CFG_INT, "x", NULL, NULL, NULL, 0},
							 {NULL, 0, NULL, NULL, NULL, NULL, 0}};
	static const struct sup_cfg_key bad_name[] = {{"A.b", SUP_CFG_INT, "1", NULL, NULL, NULL, 0},
						      {NULL, 0, NULL, NULL, NULL, NULL, 0}};
	static const struct sup_cfg_key clash[] = {{"epochs", SUP_CFG_FLOAT, "1", NULL, NULL, NULL, 0},
						   {NULL, 0, NULL, NULL, NULL, NULL, 0}};
	static const struct sup_cfg_key group[] = {{"optim", SUP_CFG_INT, "1", NULL, NULL, NULL, 0},
						   {NULL, 0, NULL, NULL, NULL, NULL, 0}};
	const struct sup_cfg_key *s1[] = {bad_default}, *s2[] = {bad_name}, *s3[] = {base_keys, clash},
				 *s4[] = {base_keys, group};
	TU_CHECK(sup_config_new(&c, s1, 1, err, sizeof err) == SUP_ERR_ARG && !c);
	TU_CHECK(sup_config_new(&c, s2, 1, err, sizeof err) == SUP_ERR_ARG);
	TU_CHECK(sup_config_new(&c, s3, 2, err, sizeof err) == SUP_ERR_ARG);
	TU_CHECK(sup_config_new(&c, s4, 2, err, sizeof err) == SUP_ERR_ARG);
	TU_CHECK_MSG(strstr(err, "both a key and a group") != NULL, "%s", err);
}

static enum sup_status load(struct sup_config *c, const char *yaml, char *err, size_t n)
{
	return sup_config_load_yaml(c, yaml, strlen(yaml), "t.yaml", err, n);
}

static void test_yaml(void)
{
	struct sup_config *c = make();
	char err[256] = "";
	const char *y = "# a comment\n"
			"epochs: 20\n"
			"optim:\n"
			"  kind: lars   # trailing comment\n"
			"  momentum: 0.95\n"
			"aug:\n"
			"  color: {strength: 0.8}\n"
			"  flip: off\n"
			"name: \"quoted # not a comment\"\n"
			"temperature: .1\n";
	TU_CHECK_MSG(load(c, y, err, sizeof err) == SUP_OK, "%s", err);
	TU_CHECK(sup_config_int(c, "epochs") == 20);
	TU_CHECK(strcmp(sup_config_str(c, "optim.kind"), "lars") == 0);
	TU_CHECK(sup_config_float(c, "optim.momentum") == 0.95);
	TU_CHECK(sup_config_float(c, "aug.color.strength") == 0.8);
	TU_CHECK(!sup_config_bool(c, "aug.flip"));
	TU_CHECK(strcmp(sup_config_str(c, "name"), "quoted # not a comment") == 0);
	TU_CHECK(sup_config_float(c, "temperature") == 0.1);
	/* Dotted keys at top level are the same keys; null empties a string. */
	TU_CHECK(load(c, "optim.momentum: 0.5\nname: ~\n", err, sizeof err) == SUP_OK);
	TU_CHECK(sup_config_float(c, "optim.momentum") == 0.5 && strcmp(sup_config_str(c, "name"), "") == 0);
	/* An empty document (only comments) sets nothing. */
	TU_CHECK(load(c, "# nothing\n", err, sizeof err) == SUP_OK && sup_config_int(c, "epochs") == 20);
	TU_CHECK(load(c, "", err, sizeof err) == SUP_OK);

	/* Errors name the file, the line and the key. */
	TU_CHECK(load(c, "epochs: 3\noptim:\n  kindd: adam\n", err, sizeof err) == SUP_ERR_NOT_FOUND);
	TU_CHECK_MSG(strcmp(err, "t.yaml:3: unknown config key 'optim.kindd' (did you mean 'optim.kind'?)") == 0, "%s",
		     err);
	TU_CHECK(load(c, "epochs: [1, 2]\n", err, sizeof err) == SUP_ERR_FORMAT);
	TU_CHECK_MSG(strstr(err, "t.yaml:1:") && strstr(err, "'epochs'"), "%s", err);
	TU_CHECK(load(c, "epochs: ~\n", err, sizeof err) == SUP_ERR_ARG);
	TU_CHECK_MSG(strstr(err, "'epochs' expects an integer, got 'null'") != NULL, "%s", err);
	TU_CHECK(load(c, "lr:\n  base: 1\n", err, sizeof err) == SUP_ERR_ARG);
	TU_CHECK_MSG(strstr(err, "takes a value, not a mapping") != NULL, "%s", err);
	TU_CHECK(load(c, "epochs: 3\nname: \"unterminated\n", err, sizeof err) == SUP_ERR_FORMAT);
	TU_CHECK_MSG(strstr(err, "t.yaml:") && strstr(err, "YAML error"), "%s", err);
	TU_CHECK(load(c, "- 1\n- 2\n", err, sizeof err) == SUP_ERR_FORMAT);
	TU_CHECK(load(c, "a: &x 1\nepochs: *x\n", err, sizeof err) != SUP_OK);
	TU_CHECK(load(c, "epochs: 1\n---\nepochs: 2\n", err, sizeof err) == SUP_ERR_FORMAT);
	sup_config_free(c);
}

/* The dump reads back to the same values, bit for bit, through a file. */
static void test_round_trip(void)
{
	struct sup_config *a = make(), *b = make();
	char err[256] = "";
	const char *ov[] = {"lr=0.1",
			    "optim.momentum=0.30000000000000004",
			    "aug.color.strength=1e-300",
			    "name=tab\there \"quoted\" \\ back # hash: colon",
			    "optim.kind=adam",
			    "aug.flip=false",
			    "epochs=-5",
			    "temperature=123456789.123"};
	for (size_t i = 0; i < sizeof ov / sizeof ov[0]; i++)
		TU_CHECK_MSG(sup_config_override(a, ov[i], err, sizeof err) == SUP_OK, "%s", err);
	char *y = sup_config_to_yaml(a);
	TU_CHECK(y != NULL);
	TU_CHECK(strstr(y, "optim:\n  kind: adam  # optimizer\n") != NULL);
	TU_CHECK(strstr(y, "aug:\n  color:\n    strength: 1e-300  # jitter strength [SimCLR App. A]\n") != NULL);
	TU_CHECK(strstr(y, "lr: 0.1  # SimCLR base lr [SimCLR App. B.1]\n") != NULL);
	char dir[64], path[128];
	TU_CHECK(iot_tmpdir(dir, sizeof dir) != NULL);
	snprintf(path, sizeof path, "%s/config.yaml", dir);
	TU_CHECK(iot_write_file(path, y, strlen(y)));
	TU_CHECK_MSG(sup_config_load_yaml_file(b, path, err, sizeof err) == SUP_OK, "%s\n%s", err, y);
	for (int i = 0; i < sup_config_n_keys(a); i++)
		TU_CHECK_MSG(strcmp(sup_config_value_text(a, i), sup_config_value_text(b, i)) == 0, "%s: %s vs %s",
			     sup_config_key_at(a, i)->key, sup_config_value_text(a, i), sup_config_value_text(b, i));
	TU_CHECK(sup_config_float(b, "optim.momentum") == 0.30000000000000004);
	TU_CHECK(sup_config_float(b, "aug.color.strength") == 1e-300);
	TU_CHECK(strcmp(sup_config_str(b, "name"), "tab\there \"quoted\" \\ back # hash: colon") == 0);
	/* Run-control keys go back to their defaults on request (resume). */
	TU_CHECK(sup_config_override(b, "out=somewhere", err, sizeof err) == SUP_OK);
	sup_config_reset_flagged(b, SUP_CFG_RUNCTL);
	TU_CHECK(strcmp(sup_config_str(b, "out"), "") == 0 && sup_config_int(b, "epochs") == -5);
	/* A missing file is a clear error. */
	snprintf(path, sizeof path, "%s/missing.yaml", dir);
	TU_CHECK(sup_config_load_yaml_file(b, path, err, sizeof err) == SUP_ERR_NOT_FOUND);
	TU_CHECK_MSG(strstr(err, "missing.yaml") != NULL, "%s", err);
	free(y);
	iot_rmdir(dir);
	sup_config_free(a);
	sup_config_free(b);
}

/* The common keys form a valid schema with the documented defaults. */
static void test_common(void)
{
	const struct sup_cfg_key *s[] = {sup_config_common_keys()};
	struct sup_config *c = NULL;
	char err[256] = "";
	TU_CHECK_MSG(sup_config_new(&c, s, 1, err, sizeof err) == SUP_OK, "%s", err);
	const char *keys[] = {"data",	 "epochs", "steps", "batch_size", "lr",	   "seed",
			      "threads", "out",	   "eval",  "seeds",	  "resume"};
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
		TU_CHECK_MSG(sup_config_has(c, keys[i]), "%s", keys[i]);
	TU_CHECK(sup_config_int(c, "seeds") == 1 && sup_config_int(c, "steps") == 0);
	sup_config_free(c);
}

int main(void)
{
	test_defaults_and_types();
	test_errors();
	test_yaml();
	test_round_trip();
	test_common();
	return tu_finish("io/config");
}
