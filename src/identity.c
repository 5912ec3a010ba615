/*-------------------------------------------------------------------------
 *
 * identity.c
 *	  Find what identifies a document (repository, path, content_hash, and
 *	  the revision its audit row names) without reading the rest of it.
 *
 * Re-ingesting an unchanged code base sends documents whose content_hash
 * is already stored: they write nothing but an audit row, and reading them
 * whole would cost far more than that.  For a jsonb document the four keys
 * are looked up directly.  For JSON text (the inbox) a small scanner walks
 * the top level only, skipping nested values; it gives up (and the caller
 * reads the document in full) on anything out of the ordinary: escapes in
 * those keys or values, values of another type, text that is not an
 * object.  The caller still checks that such text is valid JSON before it
 * logs the document as unchanged.
 *
 * IDENTIFICATION
 *	  src/identity.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "astpg.h"
#include "miscadmin.h"
#include "utils/builtins.h"

typedef enum IdentityKey
{
	KEY_OTHER = -1,
	KEY_REPOSITORY,
	KEY_PATH,
	KEY_CONTENT_HASH,
	KEY_REVISION,
	NUM_KEYS
} IdentityKey;

static const char *const key_names[NUM_KEYS] = {
	"repository", "path", "content_hash", "revision"
};

static IdentityKey
identity_key(const char *name, int len)
{
	for (int k = 0; k < NUM_KEYS; k++)
		if (strlen(key_names[k]) == len && memcmp(key_names[k], name, len) == 0)
			return (IdentityKey) k;
	return KEY_OTHER;
}

/* Fill *id from the values found; false unless path and content_hash are. */
static bool
finish_identity(const char *values[], const int lens[], AstpgIdentity *id)
{
	if (values[KEY_PATH] == NULL || lens[KEY_PATH] == 0 ||
		values[KEY_CONTENT_HASH] == NULL)
		return false;
	id->repository = cstring_to_text_with_len(values[KEY_REPOSITORY] ?
											  values[KEY_REPOSITORY] : "",
											  lens[KEY_REPOSITORY]);
	id->path = cstring_to_text_with_len(values[KEY_PATH], lens[KEY_PATH]);
	id->content_hash = cstring_to_text_with_len(values[KEY_CONTENT_HASH],
												lens[KEY_CONTENT_HASH]);
	id->revision = values[KEY_REVISION] == NULL ? NULL :
		cstring_to_text_with_len(values[KEY_REVISION], lens[KEY_REVISION]);
	return true;
}

/*
 * AstpgIdentityFromJsonb
 *		The identity of a jsonb document; false if it has none that can be
 *		checked quickly (then it must be read in full).
 */
bool
AstpgIdentityFromJsonb(Jsonb *jb, AstpgIdentity *id)
{
	const char *values[NUM_KEYS] = {0};
	int			lens[NUM_KEYS] = {0};

	if (!JB_ROOT_IS_OBJECT(jb))
		return false;
	for (int k = 0; k < NUM_KEYS; k++)
	{
		JsonbValue	key;
		JsonbValue *value;

		key.type = jbvString;
		key.val.string.val = (char *) key_names[k];
		key.val.string.len = strlen(key_names[k]);
		value = findJsonbValueFromContainer(&jb->root, JB_FOBJECT, &key);
		if (value == NULL || value->type == jbvNull)
			continue;
		if (value->type != jbvString)
			return false;
		values[k] = value->val.string.val;
		lens[k] = value->val.string.len;
	}
	return finish_identity(values, lens, id);
}

static const char *
skip_space(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

/*
 * Past the string that starts at p (a quote); NULL if it does not end.
 * Strings are most of a document's bytes: jump from quote to quote with
 * memchr, and look at the bytes between only when a backslash may have
 * escaped the quote found.
 */
static const char *
skip_string(const char *p, const char *end, bool *escaped)
{
	const char *from = p + 1;

	*escaped = false;
	for (;;)
	{
		const char *quote = memchr(from, '"', end - from);
		const char *q;
		int			backslashes = 0;

		if (quote == NULL)
			return NULL;
		for (q = quote - 1; q > p && *q == '\\'; q--)
			backslashes++;
		if (!*escaped && memchr(from, '\\', quote - from) != NULL)
			*escaped = true;
		if (backslashes % 2 == 0)
			return quote + 1;	/* not escaped itself: the string ends */
		from = quote + 1;
	}
}

/*
 * Past the value that starts at p: a string, a container (strings inside
 * skipped whole, brackets counted) or a scalar (up to the next ',' or '}').
 * NULL if the text ends first.
 */
static const char *
skip_value(const char *p, const char *end)
{
	int			depth = 0;
	bool		escaped;

	while (p < end)
	{
		CHECK_FOR_INTERRUPTS();
		if (*p == '"')
		{
			p = skip_string(p, end, &escaped);
			if (p == NULL || depth == 0)
				return p;
			continue;
		}
		if (*p == '{' || *p == '[')
			depth++;
		else if (*p == '}' || *p == ']')
		{
			if (depth == 0)
				return p;
			if (--depth == 0)
				return p + 1;
		}
		else if (*p == ',' && depth == 0)
			return p;
		p++;
	}
	return NULL;
}

/*
 * AstpgIdentityFromText
 *		The identity of a document given as JSON text, found by scanning its
 *		top level; false if that is not simple (then read it in full).  The
 *		text is not checked to be valid JSON beyond what the scan needs.
 */
bool
AstpgIdentityFromText(text *json, AstpgIdentity *id)
{
	const char *p = VARDATA_ANY(json);
	const char *end = p + VARSIZE_ANY_EXHDR(json);
	const char *values[NUM_KEYS] = {0};
	int			lens[NUM_KEYS] = {0};
	bool		escaped;

	p = skip_space(p, end);
	if (p >= end || *p != '{')
		return false;
	p = skip_space(p + 1, end);
	while (p < end && *p != '}')
	{
		const char *name = p + 1;
		IdentityKey key;

		if (*p != '"' || (p = skip_string(p, end, &escaped)) == NULL || escaped)
			return false;
		key = identity_key(name, (int) (p - 1 - name));
		p = skip_space(p, end);
		if (p >= end || *p != ':')
			return false;
		p = skip_space(p + 1, end);
		if (p >= end)
			return false;

		if (key == KEY_OTHER)
			p = skip_value(p, end);
		else if (*p == '"')
		{
			/* the last occurrence of a key wins, as in jsonb */
			values[key] = p + 1;
			p = skip_string(p, end, &escaped);
			if (p == NULL || escaped)
				return false;
			lens[key] = (int) (p - 1 - values[key]);
		}
		else if (end - p >= 4 && memcmp(p, "null", 4) == 0)
		{
			values[key] = NULL;
			lens[key] = 0;
			p += 4;
		}
		else
			return false;		/* the wrong type: reading says so */

		if (p == NULL)
			return false;
		p = skip_space(p, end);
		if (p < end && *p == ',')
			p = skip_space(p + 1, end);
		else if (p >= end || *p != '}')
			return false;
	}
	if (p >= end)
		return false;
	return finish_identity(values, lens, id);
}
