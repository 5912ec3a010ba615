/*-------------------------------------------------------------------------
 *
 * text.c
 *	  Find the lines that cannot be sent as text, and describe them for
 *	  astpg.rejects.
 *
 * A document reaches the server as text (astpg.inbox.doc), and PostgreSQL
 * text is valid UTF-8 without NUL bytes: a line with a byte sequence that
 * is not UTF-8, or with a raw NUL byte, makes the server refuse the whole
 * COPY (invalid byte sequence for encoding "UTF8"), not just that line.
 * So the reader checks every line first, by the same rules as PostgreSQL's
 * pg_utf8_islegal(), and deals with a bad one itself: with --on-error=skip
 * it becomes a reject of its own (astpg.record_reject), with abort it
 * stops the load at that line.
 *
 * A reject's document_text cannot hold the raw bytes either: it holds the
 * line with each byte that is not UTF-8, and each NUL, written as the four
 * characters \xHH, and everything else as given.
 *
 * IDENTIFICATION
 *	  tools/astpg-load/text.c
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "astpg_load.h"

/*
 * Length of the valid UTF-8 sequence at s (a byte >= 0x80), or 0 if there
 * is none: PostgreSQL's rules, so no overlong forms, no surrogates, nothing
 * beyond U+10FFFF.
 */
static size_t
utf8_sequence(const unsigned char *s, size_t avail)
{
	unsigned char c = s[0];
	unsigned char lo = 0x80;
	unsigned char hi = 0xbf;	/* the range of the second byte */
	size_t		n;

	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef)
	{
		n = 3;
		if (c == 0xe0)
			lo = 0xa0;			/* overlong */
		else if (c == 0xed)
			hi = 0x9f;			/* surrogates */
	}
	else if (c >= 0xf0 && c <= 0xf4)
	{
		n = 4;
		if (c == 0xf0)
			lo = 0x90;			/* overlong */
		else if (c == 0xf4)
			hi = 0x8f;			/* beyond U+10FFFF */
	}
	else
		return 0;
	if (avail < n || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

/*
 * text_check
 *		True if the line can be sent as text.  Otherwise *fault says where
 *		its first bad byte is and how many bytes are bad in all.
 */
bool
text_check(const char *line, size_t len, TextFault *fault)
{
	const unsigned char *s = (const unsigned char *) line;
	size_t		i = 0;
	bool		ok = true;

	memset(fault, 0, sizeof(TextFault));
	while (i < len)
	{
		size_t		n;

		/* plain ASCII, the common case, in one stretch */
		while (i < len && s[i] < 0x80 && s[i] != 0)
			i++;
		if (i >= len)
			break;
		n = s[i] == 0 ? 0 : utf8_sequence(s + i, len - i);
		if (n > 0)
		{
			i += n;
			continue;
		}
		if (ok)
		{
			ok = false;
			fault->offset = i;
			fault->nul = s[i] == 0;
		}
		fault->bad_bytes++;
		i++;
	}
	return ok;
}

/*
 * text_escape
 *		The line as valid text: each byte that is not UTF-8, and each NUL,
 *		written \xHH (malloc'd, NUL-terminated).
 */
char *
text_escape(const char *line, size_t len)
{
	const unsigned char *s = (const unsigned char *) line;
	TextFault	fault;
	char	   *out;
	size_t		o = 0;

	(void) text_check(line, len, &fault);
	out = malloc(len + 3 * fault.bad_bytes + 1);
	if (out == NULL)
	{
		fprintf(stderr, "astpg-load: out of memory\n");
		exit(1);
	}
	for (size_t i = 0; i < len;)
	{
		size_t		n = 1;

		if (s[i] >= 0x80)
			n = utf8_sequence(s + i, len - i);
		if (s[i] == 0 || n == 0)
		{
			o += sprintf(out + o, "\\x%02x", s[i]);
			i++;
			continue;
		}
		memcpy(out + o, s + i, n);
		o += n;
		i += n;
	}
	out[o] = '\0';
	return out;
}

/*
 * text_describe
 *		What astpg.rejects says of a line that cannot be sent as text, and
 *		what an abort reports: where (the line of the file, counted from 1,
 *		blank lines included, and the byte offset in it, from 0) and why, in
 *		PostgreSQL's own words for those bytes.
 *
 *		A byte that is not UTF-8 is SQLSTATE 22021 (character_not_in_repertoire),
 *		"invalid byte sequence for encoding "UTF8"", as the server says of
 *		it; a NUL byte, valid UTF-8 but not storable in text, is 22P05
 *		(untranslatable_character), as jsonb says of \u0000.
 */
void
text_describe(const char *line, size_t len, const TextFault *fault,
			  const char *source, int64_t lineno, int64_t document,
			  LineReject *reject)
{
	const unsigned char *s = (const unsigned char *) line;
	char	   *where;
	char		bytes[32];
	char		buf[1024];

	{
		char	   *name = text_escape(source, strlen(source));

		if (strcmp(source, "-") == 0)
			snprintf(buf, sizeof(buf), "line %lld of standard input, byte offset %zu",
					 (long long) lineno, fault->offset);
		else
			snprintf(buf, sizeof(buf), "line %lld of \"%s\", byte offset %zu",
					 (long long) lineno, name, fault->offset);
		free(name);
		where = strdup(buf);
	}

	if (fault->nul)
	{
		reject->sqlstate = "22P05";
		snprintf(buf, sizeof(buf), "%s: a NUL byte cannot be converted to text", where);
	}
	else
	{
		/* as the server shows it: the bytes the lead byte claims, at most */
		size_t		n = (s[fault->offset] & 0xe0) == 0xc0 ? 2 :
			(s[fault->offset] & 0xf0) == 0xe0 ? 3 :
			(s[fault->offset] & 0xf8) == 0xf0 ? 4 : 1;
		size_t		b = 0;

		if (n > len - fault->offset)
			n = len - fault->offset;
		for (size_t i = 0; i < n; i++)
			b += snprintf(bytes + b, sizeof(bytes) - b, "%s0x%02x",
						  i > 0 ? " " : "", s[fault->offset + i]);
		reject->sqlstate = "22021";
		snprintf(buf, sizeof(buf), "%s: invalid byte sequence for encoding \"UTF8\": %s",
				 where, bytes);
	}
	reject->message = strdup(buf);
	snprintf(buf, sizeof(buf),
			 "Document %lld of the input. document_text holds the line with each byte that is not UTF-8 or is NUL (%zu in all) written as \\xHH.",
			 (long long) document, fault->bad_bytes);
	reject->detail = strdup(buf);
	reject->text = text_escape(line, len);
	free(where);
}
