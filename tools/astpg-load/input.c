/*-------------------------------------------------------------------------
 *
 * input.c
 *	  Read NDJSON documents, plain or gzip, from files or standard input,
 *	  and cut them into batches of binary COPY tuples for the workers.
 *
 * Binary COPY carries each document as its exact bytes with a length in
 * front: backslashes, tabs, quotes, "\." lines and non-ASCII text need no
 * escaping and cannot be misread.  Blank lines are not documents and are
 * passed over; every other line is sent, even if it is not JSON, so that
 * the server refuses (or rejects) it like any other bad input.
 *
 * Lines are cut at newlines by length, never by strlen(): a NUL byte is part
 * of its line, which stays one document.  A line that cannot be sent as
 * text at all (not UTF-8, or a NUL byte; text.c) would make the server
 * refuse the whole COPY: with --on-error=skip it goes into the batch as a
 * reject of its own, recorded in its place by the worker; with abort the
 * reader stops there, and the batches before it are still committed.
 * Either way every later line keeps its number.
 *
 * With --skip-unchanged or --sync each line is scanned first (sync.c): a
 * document the scanner proves unchanged is recorded, not sent, and still
 * counts in its batch's span of the input, so that batches, the resume
 * point and the summary count input documents as before.
 *
 * IDENTIFICATION
 *	  tools/astpg-load/input.c
 *
 *-------------------------------------------------------------------------
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "astpg_load.h"

static void *
xrealloc(void *p, size_t size)
{
	void	   *q = realloc(p, size);

	if (q == NULL)
	{
		fprintf(stderr, "astpg-load: out of memory\n");
		exit(1);
	}
	return q;
}

static void
append(Batch *batch, const void *data, size_t len)
{
	if (batch->len + len > batch->cap)
	{
		batch->cap = (batch->len + len) * 2;
		batch->data = xrealloc(batch->data, batch->cap);
	}
	memcpy(batch->data + batch->len, data, len);
	batch->len += len;
}

/* One binary COPY tuple of one text field: int16 count, int32 length, bytes. */
void
batch_append(Batch *batch, const char *text, size_t len)
{
	unsigned char head[6];

	head[0] = 0;
	head[1] = 1;
	head[2] = (len >> 24) & 0xff;
	head[3] = (len >> 16) & 0xff;
	head[4] = (len >> 8) & 0xff;
	head[5] = len & 0xff;
	append(batch, head, sizeof(head));
	append(batch, text, len);
	batch->ndocs++;
}

/*
 * A line that cannot be sent as text, in its place among the batch's
 * documents: the worker records it with astpg.record_reject() between the
 * COPYs of the documents before and after it.
 */
static void
batch_reject(Batch *batch, const char *line, size_t len, const TextFault *fault,
			 const char *source, int64_t lineno, int64_t document)
{
	LineReject *reject;

	batch->rejects = xrealloc(batch->rejects,
							  (batch->nrejects + 1) * sizeof(LineReject));
	reject = &batch->rejects[batch->nrejects++];
	text_describe(line, len, fault, source, lineno, document, reject);
	reject->offset = batch->len;
	batch->ndocs++;
}

void
batch_free(Batch *batch)
{
	for (int i = 0; i < batch->nrejects; i++)
	{
		free(batch->rejects[i].message);
		free(batch->rejects[i].detail);
		free(batch->rejects[i].text);
	}
	free(batch->rejects);
	free(batch->data);
	free(batch);
}

static Batch *
new_batch(int64_t seq, int64_t first)
{
	Batch	   *batch = xrealloc(NULL, sizeof(Batch));

	memset(batch, 0, sizeof(Batch));
	batch->seq = seq;
	batch->first = first;
	return batch;
}

/* Queue a batch, waiting while the queue is full; false when stopping. */
static bool
enqueue(Loader *loader, Batch *batch)
{
	pthread_mutex_lock(&loader->lock);
	while (loader->queued >= loader->capacity && !loader_stopping(loader))
		loader_wait(loader);
	if (loader_stopping(loader))
	{
		pthread_mutex_unlock(&loader->lock);
		batch_free(batch);
		return false;
	}
	if (loader->tail)
		loader->tail->next = batch;
	else
		loader->head = batch;
	loader->tail = batch;
	loader->queued++;
	pthread_cond_broadcast(&loader->changed);
	pthread_mutex_unlock(&loader->lock);
	return true;
}

static bool
blank(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
			return false;
	return true;
}

/* Reads one input, plain or gzip, line by line. */
#define READ_SIZE (1 << 18)

typedef struct LineReader
{
	gzFile		in;
	char	   *buf;			/* READ_SIZE bytes read ahead */
	size_t		pos;
	size_t		end;
	char	   *line;			/* a line that spans reads, assembled */
	size_t		cap;
} LineReader;

/*
 * The next line, its newline included if it has one, and its length; NULL
 * at the end of the input or on a read error (gzerror() tells).  A line
 * that lies within the read-ahead is not copied.  Valid until the next
 * call.
 */
static char *
read_line(LineReader *r, size_t *len)
{
	size_t		n = 0;

	for (;;)
	{
		char	   *start;
		char	   *nl;
		size_t		take;

		if (r->pos == r->end)
		{
			int			got = gzread(r->in, r->buf, READ_SIZE);

			if (got < 0)
				return NULL;
			if (got == 0)
			{
				*len = n;
				return n > 0 ? r->line : NULL;
			}
			r->pos = 0;
			r->end = (size_t) got;
		}
		start = r->buf + r->pos;
		nl = memchr(start, '\n', r->end - r->pos);
		take = nl ? (size_t) (nl - start) + 1 : r->end - r->pos;
		r->pos += take;
		if (nl && n == 0)
		{
			*len = take;
			return start;
		}
		if (n + take > r->cap)
		{
			while (n + take > r->cap)
				r->cap *= 2;
			r->line = xrealloc(r->line, r->cap);
		}
		memcpy(r->line + n, start, take);
		n += take;
		if (nl)
		{
			*len = n;
			return r->line;
		}
	}
}

/* Sum of the sizes of regular input files, for the progress bar. */
static int64_t
input_size(Options *opt)
{
	int64_t		total = 0;

	for (int i = 0; i < opt->nfiles; i++)
	{
		struct stat st;

		if (strcmp(opt->files[i], "-") == 0 ||
			stat(opt->files[i], &st) != 0 || !S_ISREG(st.st_mode))
			return 0;
		total += st.st_size;
	}
	return total;
}

/*
 * Cut a batch: with --skip-unchanged, record its pending documents first
 * (the ones record_unchanged() answers 'changed' join it).  A batch left
 * with nothing to send is committed here, without a transaction.  False
 * when stopping or on an error.
 */
static bool
finish_batch(Loader *loader, SyncState *st, Batch *batch)
{
	static const Counts none;

	if (sync_pending(st) > 0)
	{
		char	   *why = NULL;

		if (!sync_flush(st, batch, &why))
		{
			loader_fail(loader, batch->first, batch->ndocs + batch->unchanged,
						"%s", why ? why : "unknown error");
			free(why);
			batch_free(batch);
			return false;
		}
	}
	if (batch->ndocs == 0)
	{
		record_commit(loader, &batch, 1, &none);
		batch_free(batch);
		return !loader_stopping(loader);
	}
	return enqueue(loader, batch);
}

/*
 * reader_main
 *		Thread body: read every input, queue its documents in batches, and
 *		mark the input done (input_ok false after an input error, which is
 *		reported through loader_fail).
 */
void *
reader_main(void *arg)
{
	Loader	   *loader = arg;
	Options    *opt = &loader->opt;
	char	   *stdin_only[] = {"-"};
	char	  **files = opt->nfiles > 0 ? opt->files : stdin_only;
	int			nfiles = opt->nfiles > 0 ? opt->nfiles : 1;
	LineReader	reader = {0};
	int64_t		index = 0;		/* documents seen, skipped ones included */
	int64_t		lineno;			/* lines of the current file, blank ones too */
	int64_t		seq = 0;
	int64_t		done_bytes = 0; /* bytes of the files already read */
	Batch	   *batch = NULL;
	bool		ok = true;
	SyncState  *st = NULL;

	loader->input_size = input_size(opt);
	if (opt->skip_unchanged || opt->sync_repository)
		st = sync_begin(loader);

	for (int f = 0; f < nfiles && ok && !loader_stopping(loader); f++)
	{
		const char *name = files[f];
		gzFile		in = strcmp(name, "-") == 0 ?
			gzdopen(dup(STDIN_FILENO), "rb") : gzopen(name, "rb");

		if (in == NULL)
		{
			loader_fail(loader, index, 0, "could not open \"%s\": %s",
						name, strerror(errno));
			ok = false;
			break;
		}
		gzbuffer(in, 1 << 18);
		reader.in = in;
		reader.pos = reader.end = 0;
		if (reader.buf == NULL)
		{
			reader.buf = xrealloc(NULL, READ_SIZE);
			reader.cap = 1 << 20;
			reader.line = xrealloc(NULL, reader.cap);
		}
		lineno = 0;

		while (!loader_stopping(loader))
		{
			size_t		len;
			char	   *line = read_line(&reader, &len);
			TextFault	fault;
			bool		sendable;

			if (line == NULL)
				break;
			lineno++;

			pthread_mutex_lock(&loader->lock);
			loader->input_read = done_bytes + gzoffset(in);
			pthread_mutex_unlock(&loader->lock);

			if (blank(line, len))
				continue;
			if (st)
			{
				/* --sync keeps the paths --skip passes over too */
				size_t		n = len;

				while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
					n--;
				sync_note_line(st, line, n);
			}
			if (index++ < opt->skip)
				continue;

			while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
				len--;
			if (batch == NULL)
				batch = new_batch(seq++, index - 1);
			sendable = text_check(line, len, &fault);
			if (!sendable && !opt->skip_rejected)
			{
				LineReject	why;

				/*
				 * abort: as a refused document would, this fails its batch
				 * (all of it, in one transaction: all read so far); the
				 * batches before it are still committed.
				 */
				text_describe(line, len, &fault, name, lineno, index, &why);
				loader_stop_reading(loader,
									opt->single_transaction ? opt->skip : batch->first,
									(int) (index - (opt->single_transaction ?
													opt->skip : batch->first)),
									"%s", why.message);
				free(why.message);
				free(why.detail);
				free(why.text);
				ok = false;
				break;
			}
			if (!sendable)
				batch_reject(batch, line, len, &fault, name, lineno, index);
			else if (opt->skip_unchanged)
			{
				char	   *why = NULL;
				int			skip = sync_decide(st, line, len, &why);

				if (skip < 0)
				{
					loader_fail(loader, batch->first,
								batch->ndocs + sync_pending(st) + 1,
								"%s", why ? why : "unknown error");
					free(why);
					ok = false;
					break;
				}
				if (skip == 0)
					batch_append(batch, line, len);
			}
			else
				batch_append(batch, line, len);
			batch->text_bytes += len + 1;

			pthread_mutex_lock(&loader->lock);
			loader->docs_read++;
			pthread_mutex_unlock(&loader->lock);

			if (batch->ndocs + sync_pending(st) >= opt->batch_size)
			{
				batch->input_pos = done_bytes + gzoffset(in);
				if (!finish_batch(loader, st, batch))
					ok = false;
				batch = NULL;
				if (!ok)
					break;
			}
		}

		{
			int			err;
			const char *msg = gzerror(in, &err);

			if (err != Z_OK && err != Z_STREAM_END)
			{
				loader_fail(loader, index, 0, "could not read \"%s\": %s",
							name, err == Z_ERRNO ? strerror(errno) : msg);
				ok = false;
			}
		}
		done_bytes += gzoffset(in);
		gzclose(in);
	}

	if (batch != NULL)
	{
		batch->input_pos = done_bytes;
		if (ok && !loader_stopping(loader))
			ok = finish_batch(loader, st, batch);
		else
			batch_free(batch);
	}
	free(reader.buf);
	free(reader.line);
	sync_end(st);

	pthread_mutex_lock(&loader->lock);
	loader->input_done = true;
	loader->input_ok = ok;
	pthread_cond_broadcast(&loader->changed);
	pthread_mutex_unlock(&loader->lock);
	return NULL;
}
