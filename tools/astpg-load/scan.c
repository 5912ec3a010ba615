/*-------------------------------------------------------------------------
 *
 * scan.c
 *	  Find the top-level repository, path, language, content_hash and
 *	  revision of an NDJSON document, without building it.
 *
 * --skip-unchanged and --sync decide from these keys alone, in the reader
 * thread, before a document is queued.  The scanner checks the whole line
 * as the server's jsonb input would (JSON syntax, UTF-8, no \u0000, paired
 * surrogates) and decodes only the strings of the keys it wants.  A key
 * given twice counts its last value, as in jsonb.  Whatever it cannot read
 * it reports as such, and the caller then sends the line: the server is
 * the judge of a document, the scanner only a way to leave alone the ones
 * it can prove unchanged.
 *
 * Memory: a DocKeys owns one growable buffer per key, reused from line to
 * line; nothing is allocated per document once they are large enough.
 *
 * IDENTIFICATION
 *	  tools/astpg-load/scan.c
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "astpg_load.h"

/* deeper nesting than this is left to the server to judge */
#define MAX_DEPTH 1000

typedef struct Scanner
{
	const unsigned char *p;
	const unsigned char *end;
} Scanner;

static void
buf_reserve(KeyValue *v, size_t need)
{
	if (need > v->cap)
	{
		size_t		cap = v->cap ? v->cap : 64;

		while (cap < need)
			cap *= 2;
		v->text = realloc(v->text, cap);
		if (v->text == NULL)
		{
			fprintf(stderr, "astpg-load: out of memory\n");
			exit(1);
		}
		v->cap = cap;
	}
}

static void
buf_put(KeyValue *v, const void *data, size_t len)
{
	buf_reserve(v, v->len + len + 1);
	memcpy(v->text + v->len, data, len);
	v->len += len;
	v->text[v->len] = '\0';
}

static inline void
skip_ws(Scanner *s)
{
	while (s->p < s->end &&
		   (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
		s->p++;
}

static int
hex_digit(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool
read_hex4(Scanner *s, unsigned *code)
{
	*code = 0;
	if (s->end - s->p < 4)
		return false;
	for (int i = 0; i < 4; i++)
	{
		int			d = hex_digit(s->p[i]);

		if (d < 0)
			return false;
		*code = *code << 4 | d;
	}
	s->p += 4;
	return true;
}

/*
 * One UTF-8 sequence starting at s->p (a byte >= 0x80): the server refuses
 * a line that is not valid UTF-8, so the scanner must too.
 */
static bool
skip_utf8(Scanner *s)
{
	const unsigned char *p = s->p;
	unsigned	c = p[0];
	int			n;
	unsigned	code;

	if (c >= 0xc2 && c <= 0xdf)
		n = 1, code = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		n = 2, code = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 3, code = c & 0x07;
	else
		return false;
	if (s->end - p <= n)
		return false;
	for (int i = 1; i <= n; i++)
	{
		if ((p[i] & 0xc0) != 0x80)
			return false;
		code = code << 6 | (p[i] & 0x3f);
	}
	/* overlong forms, surrogates, beyond U+10FFFF */
	if ((n == 2 && code < 0x800) || (n == 3 && code < 0x10000) ||
		(code >= 0xd800 && code <= 0xdfff) || code > 0x10ffff)
		return false;
	s->p += n + 1;
	return true;
}

static void
put_utf8(KeyValue *out, unsigned code)
{
	unsigned char b[4];
	size_t		n;

	if (code < 0x80)
		b[0] = code, n = 1;
	else if (code < 0x800)
	{
		b[0] = 0xc0 | code >> 6;
		b[1] = 0x80 | (code & 0x3f);
		n = 2;
	}
	else if (code < 0x10000)
	{
		b[0] = 0xe0 | code >> 12;
		b[1] = 0x80 | (code >> 6 & 0x3f);
		b[2] = 0x80 | (code & 0x3f);
		n = 3;
	}
	else
	{
		b[0] = 0xf0 | code >> 18;
		b[1] = 0x80 | (code >> 12 & 0x3f);
		b[2] = 0x80 | (code >> 6 & 0x3f);
		b[3] = 0x80 | (code & 0x3f);
		n = 4;
	}
	buf_put(out, b, n);
}

/*
 * A string at s->p (its opening quote), decoded into out when out is not
 * NULL.  False for anything jsonb would refuse.
 */
static bool
scan_string(Scanner *s, KeyValue *out)
{
	s->p++;
	if (out)
	{
		out->len = 0;
		buf_reserve(out, 1);
		out->text[0] = '\0';
	}
	for (;;)
	{
		const unsigned char *run = s->p;

		/* the plain bytes, the common case, in one stretch */
		while (s->p < s->end && *s->p >= 0x20 && *s->p != '"' &&
			   *s->p != '\\' && *s->p < 0x80)
			s->p++;
		if (out && s->p > run)
			buf_put(out, run, s->p - run);
		if (s->p >= s->end || *s->p < 0x20)
			return false;
		if (*s->p == '"')
		{
			s->p++;
			return true;
		}
		if (*s->p >= 0x80)
		{
			run = s->p;
			if (!skip_utf8(s))
				return false;
			if (out)
				buf_put(out, run, s->p - run);
			continue;
		}

		/* a backslash */
		if (s->end - s->p < 2)
			return false;
		s->p++;
		{
			unsigned char c = *s->p++;
			char		plain;

			switch (c)
			{
				case '"':
				case '\\':
				case '/':
					plain = c;
					break;
				case 'b':
					plain = '\b';
					break;
				case 'f':
					plain = '\f';
					break;
				case 'n':
					plain = '\n';
					break;
				case 'r':
					plain = '\r';
					break;
				case 't':
					plain = '\t';
					break;
				case 'u':
					{
						unsigned	code;

						if (!read_hex4(s, &code))
							return false;
						/* jsonb refuses \u0000 and unpaired surrogates */
						if (code == 0 || (code >= 0xdc00 && code <= 0xdfff))
							return false;
						if (code >= 0xd800 && code <= 0xdbff)
						{
							unsigned	low;

							if (s->end - s->p < 2 || s->p[0] != '\\' || s->p[1] != 'u')
								return false;
							s->p += 2;
							if (!read_hex4(s, &low) || low < 0xdc00 || low > 0xdfff)
								return false;
							code = 0x10000 + ((code - 0xd800) << 10) + (low - 0xdc00);
						}
						if (out)
							put_utf8(out, code);
						continue;
					}
				default:
					return false;
			}
			if (out)
				buf_put(out, &plain, 1);
		}
	}
}

static bool
scan_number(Scanner *s)
{
	const unsigned char *e = s->end;

	if (s->p < e && *s->p == '-')
		s->p++;
	if (s->p >= e)
		return false;
	if (*s->p == '0')
		s->p++;
	else if (*s->p >= '1' && *s->p <= '9')
		while (s->p < e && *s->p >= '0' && *s->p <= '9')
			s->p++;
	else
		return false;
	if (s->p < e && *s->p == '.')
	{
		s->p++;
		if (s->p >= e || *s->p < '0' || *s->p > '9')
			return false;
		while (s->p < e && *s->p >= '0' && *s->p <= '9')
			s->p++;
	}
	if (s->p < e && (*s->p == 'e' || *s->p == 'E'))
	{
		s->p++;
		if (s->p < e && (*s->p == '+' || *s->p == '-'))
			s->p++;
		if (s->p >= e || *s->p < '0' || *s->p > '9')
			return false;
		while (s->p < e && *s->p >= '0' && *s->p <= '9')
			s->p++;
	}
	return true;
}

static bool
scan_literal(Scanner *s, const char *word)
{
	size_t		len = strlen(word);

	if ((size_t) (s->end - s->p) < len || memcmp(s->p, word, len) != 0)
		return false;
	s->p += len;
	return true;
}

/* Any value at s->p (whitespace skipped), checked and passed over. */
static bool
skip_value(Scanner *s, int depth)
{
	if (s->p >= s->end)
		return false;
	switch (*s->p)
	{
		case '"':
			return scan_string(s, NULL);
		case '{':
		case '[':
			{
				unsigned char close = *s->p == '{' ? '}' : ']';
				bool		object = close == '}';

				if (depth >= MAX_DEPTH)
					return false;
				s->p++;
				skip_ws(s);
				if (s->p < s->end && *s->p == close)
				{
					s->p++;
					return true;
				}
				for (;;)
				{
					if (object)
					{
						if (s->p >= s->end || *s->p != '"' || !scan_string(s, NULL))
							return false;
						skip_ws(s);
						if (s->p >= s->end || *s->p != ':')
							return false;
						s->p++;
						skip_ws(s);
					}
					if (!skip_value(s, depth + 1))
						return false;
					skip_ws(s);
					if (s->p >= s->end)
						return false;
					if (*s->p == close)
					{
						s->p++;
						return true;
					}
					if (*s->p != ',')
						return false;
					s->p++;
					skip_ws(s);
				}
			}
		case 't':
			return scan_literal(s, "true");
		case 'f':
			return scan_literal(s, "false");
		case 'n':
			return scan_literal(s, "null");
		default:
			return scan_number(s);
	}
}

/* The value of a wanted key: decoded if a string, else only its kind. */
static bool
scan_wanted(Scanner *s, KeyValue *v)
{
	if (s->p < s->end && *s->p == '"')
	{
		v->kind = KEY_STRING;
		return scan_string(s, v);
	}
	if (s->p < s->end && *s->p == 'n' && scan_literal(s, "null"))
	{
		v->kind = KEY_NULL;
		return true;
	}
	v->kind = KEY_OTHER;
	return skip_value(s, 1);
}

/*
 * scan_document
 *		Read the top-level keys of one NDJSON line into keys.  False when
 *		the line is not a JSON object the server's jsonb input would take.
 */
bool
scan_document(const char *line, size_t len, DocKeys *keys)
{
	Scanner		s = {(const unsigned char *) line, (const unsigned char *) line + len};

	keys->repository.kind = KEY_ABSENT;
	keys->path.kind = KEY_ABSENT;
	keys->language.kind = KEY_ABSENT;
	keys->content_hash.kind = KEY_ABSENT;
	keys->revision.kind = KEY_ABSENT;

	skip_ws(&s);
	if (s.p >= s.end || *s.p != '{')
		return false;
	s.p++;
	skip_ws(&s);
	if (s.p < s.end && *s.p == '}')
		s.p++;
	else
	{
		for (;;)
		{
			KeyValue   *v = NULL;

			if (s.p >= s.end || *s.p != '"' || !scan_string(&s, &keys->key))
				return false;
			/* a key with a NUL byte cannot be one of ours, nor in jsonb */
			if (strlen(keys->key.text) == keys->key.len)
			{
				const char *k = keys->key.text;

				if (strcmp(k, "repository") == 0)
					v = &keys->repository;
				else if (strcmp(k, "path") == 0)
					v = &keys->path;
				else if (strcmp(k, "language") == 0)
					v = &keys->language;
				else if (strcmp(k, "content_hash") == 0)
					v = &keys->content_hash;
				else if (strcmp(k, "revision") == 0)
					v = &keys->revision;
			}
			skip_ws(&s);
			if (s.p >= s.end || *s.p != ':')
				return false;
			s.p++;
			skip_ws(&s);
			if (!(v ? scan_wanted(&s, v) : skip_value(&s, 1)))
				return false;
			skip_ws(&s);
			if (s.p < s.end && *s.p == ',')
			{
				s.p++;
				skip_ws(&s);
				continue;
			}
			if (s.p < s.end && *s.p == '}')
			{
				s.p++;
				break;
			}
			return false;
		}
	}
	skip_ws(&s);
	return s.p == s.end;
}

/*
 * The repository a scanned document is stored under: the server's default
 * for an absent or null one is the empty name.  NULL when it is not a
 * string (the server refuses the document).
 */
const char *
doc_repository(DocKeys *keys)
{
	if (keys->repository.kind == KEY_STRING)
		return keys->repository.text;
	if (keys->repository.kind == KEY_ABSENT || keys->repository.kind == KEY_NULL)
		return "";
	return NULL;
}
