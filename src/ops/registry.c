/* The op table, built from SUP_OP_LIST. The references are strong so that every op file is
 * linked in from the static library even when no other code calls its functions. */
#include "op_internal.h"

#include <string.h>

#define SUP_OP_ENTRY(name) &sup_opdef_##name,
static const struct sup_op_def *const op_table[] = { SUP_OP_LIST(SUP_OP_ENTRY) };
#undef SUP_OP_ENTRY

#define SUP_OP_NAME(name) #name,
static const char *const op_names[] = { SUP_OP_LIST(SUP_OP_NAME) };
#undef SUP_OP_NAME

int sup_op_count(void)
{
	return (int)(sizeof op_table / sizeof op_table[0]);
}

const struct sup_op_def *sup_op_get(int i)
{
	return i >= 0 && i < sup_op_count() ? op_table[i] : NULL;
}

const char *sup_op_name_at(int i)
{
	return i >= 0 && i < sup_op_count() ? op_names[i] : NULL;
}

const struct sup_op_def *sup_op_find(const char *name)
{
	for (int i = 0; i < sup_op_count(); i++)
		if (strcmp(op_names[i], name) == 0)
			return op_table[i];
	return NULL;
}
