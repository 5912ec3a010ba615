/*-------------------------------------------------------------------------
 *
 * sync.c
 *	  --skip-unchanged and --sync: what astpg-index does for a tree, done
 *	  for NDJSON that a producer has already made.
 *
 * --skip-unchanged: the reader thread asks astpg.stored_hashes() once for
 * each repository it meets and keeps the answer in a hash map (path ->
 * content_hash; a repository of 100k files takes a few MB).  A document
 * whose content_hash is the stored one is not queued: it waits in a
 * pending set, and when its batch is cut the set goes to
 * astpg.record_unchanged() in one call per repository, which writes the
 * 'unchanged' audit rows ingest would have written.  The ones it answers
 * 'changed' (another writer stored the path meanwhile) are sent in that
 * batch after all.  A document the scanner cannot read, or that lacks
 * what the decision needs, is always sent: the server judges it.
 *
 * Once a path is sent, its entry holds no hash: a later line of the same
 * path is sent too, and the server decides, as without the option.  It
 * must not be compared with the hash stored before this load, and it must
 * not go to record_unchanged() either: with --single-transaction the
 * worker holds that path's row locked until the very end, and the reader
 * would wait for it forever.
 *
 * --sync REPOSITORY: every path of that repository named by a line that
 * reads as a JSON object (even one the server will refuse, so that its
 * stored version is kept, and the lines --skip passes over) is kept in a
 * list; once the whole load is committed, main calls sync_delete(), which
 * has astpg.delete_files() delete the repository's other stored files.
 *
 * The pending set is bounded by the batch size; everything else lives
 * until the process ends.  The reader's connection is autocommit: each
 * record_unchanged() call commits on its own, whatever becomes of the
 * batches (a document recorded unchanged needs nothing more).
 *
 * IDENTIFICATION
 *	  tools/astpg-load/sync.c
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libpq-fe.h"
#include "astpg_load.h"

/*
 * path -> content_hash of one repository's stored files; hash NULL: send
 * it.  Paths are only ever added from stored_hashes(), so a map is no
 * larger than its repository.
 */
typedef struct Entry
{
	uint64_t	code;
	char	   *path;			/* one allocation with its hash */
	const char *hash;
} Entry;

typedef struct Repo
{
	char	   *name;
	Entry	   *slots;
	size_t		nslots;			/* a power of two */
	size_t		count;
	struct Repo *next;
} Repo;

/* a document left out of its batch, until record_unchanged() answers */
typedef struct Pending
{
	Repo	   *repo;
	char	   *path;			/* these four in one allocation */
	char	   *hash;
	char	   *revision;		/* NULL: none */
	char	   *line;
	size_t		len;
} Pending;

struct SyncState
{
	Loader	   *loader;
	Options    *opt;
	PGconn	   *conn;			/* opened when first needed */
	DocKeys		keys;			/* of the line last noted */
	bool		scanned;		/* it read as a JSON object */
	Repo	   *repos;
	Repo	   *last;			/* lines of one repository come together */
	Pending    *pending;
	int			npending;
	int			pending_cap;
};

/* --sync: the paths of the repository met in the input (main reads them) */
static char **keep_paths;
static size_t nkeep;
static size_t keep_cap;

/* A growable text buffer for array literals. */
typedef struct Text
{
	char	   *data;
	size_t		len;
	size_t		cap;
} Text;

static void *
xmalloc(size_t size)
{
	void	   *p = malloc(size);

	if (p == NULL)
	{
		fprintf(stderr, "astpg-load: out of memory\n");
		exit(1);
	}
	return p;
}

static void *
xrealloc2(void *p, size_t size)
{
	p = realloc(p, size);
	if (p == NULL)
	{
		fprintf(stderr, "astpg-load: out of memory\n");
		exit(1);
	}
	return p;
}

static void
text_put(Text *t, const char *s, size_t len)
{
	if (t->len + len + 1 > t->cap)
	{
		t->cap = (t->len + len + 1) * 2;
		t->data = xrealloc2(t->data, t->cap);
	}
	memcpy(t->data + t->len, s, len);
	t->len += len;
	t->data[t->len] = '\0';
}

/* One element of a text[] literal: quoted, or NULL. */
static void
text_element(Text *t, const char *s)
{
	text_put(t, t->len > 1 ? "," : "", t->len > 1 ? 1 : 0);
	if (s == NULL)
	{
		text_put(t, "NULL", 4);
		return;
	}
	text_put(t, "\"", 1);
	for (const char *p = s; *p; p++)
	{
		const char *run = p;

		while (*p && *p != '"' && *p != '\\')
			p++;
		text_put(t, run, p - run);
		if (*p == '\0')
			break;
		text_put(t, "\\", 1);
		text_put(t, p, 1);
	}
	text_put(t, "\"", 1);
}

static uint64_t
hash_path(const char *s)
{
	uint64_t	h = 14695981039346656037ULL;	/* FNV-1a */

	for (; *s; s++)
		h = (h ^ (unsigned char) *s) * 1099511628211ULL;
	return h;
}

static Entry *
map_slot(Repo *repo, const char *path, uint64_t code)
{
	size_t		mask = repo->nslots - 1;

	for (size_t i = code & mask;; i = (i + 1) & mask)
	{
		Entry	   *e = &repo->slots[i];

		if (e->path == NULL || (e->code == code && strcmp(e->path, path) == 0))
			return e;
	}
}

/* Set path's hash (NULL: unknown, send it), adding the path if new. */
static void
map_set(Repo *repo, const char *path, const char *hash)
{
	uint64_t	code = hash_path(path);
	Entry	   *e;
	size_t		plen = strlen(path);
	size_t		hlen = hash ? strlen(hash) : 0;

	if ((repo->count + 1) * 4 > repo->nslots * 3)
	{
		Entry	   *old = repo->slots;
		size_t		nold = repo->nslots;

		repo->nslots = nold ? nold * 2 : 1024;
		repo->slots = xmalloc(repo->nslots * sizeof(Entry));
		memset(repo->slots, 0, repo->nslots * sizeof(Entry));
		for (size_t i = 0; i < nold; i++)
			if (old[i].path)
				*map_slot(repo, old[i].path, old[i].code) = old[i];
		free(old);
	}
	e = map_slot(repo, path, code);
	if (e->path)
		free(e->path);
	else
		repo->count++;
	e->code = code;
	e->path = xmalloc(plen + 1 + hlen + 1);
	memcpy(e->path, path, plen + 1);
	if (hash)
	{
		memcpy(e->path + plen + 1, hash, hlen + 1);
		e->hash = e->path + plen + 1;
	}
	else
		e->hash = NULL;
}

static const char *
map_get(Repo *repo, const char *path)
{
	Entry	   *e;

	if (repo->nslots == 0)
		return NULL;
	e = map_slot(repo, path, hash_path(path));
	return e->path ? e->hash : NULL;
}

static bool
ensure_connection(SyncState *st, char **why)
{
	if (st->conn == NULL)
	{
		st->conn = connect_db(st->opt);
		if (PQstatus(st->conn) != CONNECTION_OK)
		{
			*why = strdup(PQerrorMessage(st->conn));
			PQfinish(st->conn);
			st->conn = NULL;
			return false;
		}
	}
	return true;
}

/* The map of a repository, from astpg.stored_hashes() the first time. */
static Repo *
get_repo(SyncState *st, const char *name, char **why)
{
	Repo	   *repo;
	PGresult   *res;
	const char *params[1] = {name};

	if (st->last && strcmp(st->last->name, name) == 0)
		return st->last;
	for (repo = st->repos; repo; repo = repo->next)
		if (strcmp(repo->name, name) == 0)
			return st->last = repo;

	if (!ensure_connection(st, why))
		return NULL;
	res = PQexecParams(st->conn,
					   "SELECT path, content_hash FROM astpg.stored_hashes($1)"
					   " WHERE content_hash IS NOT NULL",
					   1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		*why = strdup(PQerrorMessage(st->conn));
		PQclear(res);
		return NULL;
	}
	repo = xmalloc(sizeof(Repo));
	memset(repo, 0, sizeof(Repo));
	repo->name = strdup(name);
	for (int i = 0; i < PQntuples(res); i++)
		map_set(repo, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1));
	PQclear(res);
	repo->next = st->repos;
	st->repos = repo;
	return st->last = repo;
}

SyncState *
sync_begin(Loader *loader)
{
	SyncState  *st = xmalloc(sizeof(SyncState));

	memset(st, 0, sizeof(SyncState));
	st->loader = loader;
	st->opt = &loader->opt;
	return st;
}

/*
 * sync_note_line
 *		Scan a document line (every one, those --skip passes over too) and,
 *		with --sync, keep its path if it names the repository synced.
 */
void
sync_note_line(SyncState *st, const char *line, size_t len)
{
	const char *repo;

	st->scanned = scan_document(line, len, &st->keys);
	if (st->opt->sync_repository == NULL || !st->scanned ||
		st->keys.path.kind != KEY_STRING)
		return;
	repo = doc_repository(&st->keys);
	if (repo == NULL || strcmp(repo, st->opt->sync_repository) != 0)
		return;
	if (nkeep == keep_cap)
	{
		keep_cap = keep_cap ? keep_cap * 2 : 1024;
		keep_paths = xrealloc2(keep_paths, keep_cap * sizeof(char *));
	}
	keep_paths[nkeep++] = strdup(st->keys.path.text);
}

/*
 * sync_decide
 *		--skip-unchanged, for the line last noted: 1 when its stored
 *		content_hash is its own (it is then pending, to be recorded
 *		unchanged), 0 when it must be sent, -1 on an error (*why set).
 */
int
sync_decide(SyncState *st, const char *line, size_t len, char **why)
{
	DocKeys    *k = &st->keys;
	const char *name;
	const char *stored;
	Repo	   *repo;
	bool		candidate;

	if (!st->scanned || k->path.kind != KEY_STRING ||
		(name = doc_repository(k)) == NULL)
		return 0;
	if ((repo = get_repo(st, name, why)) == NULL)
		return -1;

	/* what the server needs of a document before it compares hashes */
	candidate = k->path.len > 0 && k->language.kind == KEY_STRING &&
		k->content_hash.kind == KEY_STRING &&
		(k->revision.kind == KEY_STRING || k->revision.kind == KEY_NULL ||
		 k->revision.kind == KEY_ABSENT);
	stored = map_get(repo, k->path.text);
	if (candidate && stored && strcmp(stored, k->content_hash.text) == 0)
	{
		Pending    *p;
		size_t		plen = k->path.len + 1,
					hlen = k->content_hash.len + 1,
					rlen = k->revision.kind == KEY_STRING ? k->revision.len + 1 : 0;
		char	   *mem;

		if (st->npending == st->pending_cap)
		{
			st->pending_cap = st->pending_cap ? st->pending_cap * 2 : 256;
			st->pending = xrealloc2(st->pending, st->pending_cap * sizeof(Pending));
		}
		p = &st->pending[st->npending++];
		mem = xmalloc(plen + hlen + rlen + len);
		p->repo = repo;
		p->path = memcpy(mem, k->path.text, plen);
		p->hash = memcpy(mem + plen, k->content_hash.text, hlen);
		p->revision = rlen ? memcpy(mem + plen + hlen, k->revision.text, rlen) : NULL;
		p->line = memcpy(mem + plen + hlen + rlen, line, len);
		p->len = len;
		return 1;
	}
	/* sent: so are later lines of this path (see the top of the file) */
	if (stored)
		map_set(repo, k->path.text, NULL);
	return 0;
}

int
sync_pending(SyncState *st)
{
	return st ? st->npending : 0;
}

/*
 * sync_flush
 *		Record the pending documents unchanged, one record_unchanged() call
 *		per repository among them, and append to batch the ones it answers
 *		'changed'.  False on an error (*why set); the set is emptied either
 *		way.
 */
bool
sync_flush(SyncState *st, Batch *batch, char **why)
{
	bool		ok = true;

	for (int i = 0; i < st->npending && ok; i++)
	{
		Repo	   *repo = st->pending[i].repo;
		Text		paths = {0},
					hashes = {0},
					revisions = {0};
		const char *params[4];
		PGresult   *res;
		int			n = 0;

		if (repo == NULL)
			continue;			/* done with its repository's call */
		text_put(&paths, "{", 1);
		text_put(&hashes, "{", 1);
		text_put(&revisions, "{", 1);
		for (int j = i; j < st->npending; j++)
			if (st->pending[j].repo == repo)
			{
				text_element(&paths, st->pending[j].path);
				text_element(&hashes, st->pending[j].hash);
				text_element(&revisions, st->pending[j].revision);
				n++;
			}
		text_put(&paths, "}", 1);
		text_put(&hashes, "}", 1);
		text_put(&revisions, "}", 1);

		params[0] = repo->name;
		params[1] = paths.data;
		params[2] = hashes.data;
		params[3] = revisions.data;
		if (!ensure_connection(st, why))
			ok = false;
		else
		{
			res = PQexecParams(st->conn,
							   "SELECT status FROM astpg.record_unchanged($1, $2::text[], $3::text[], $4::text[])",
							   4, NULL, params, NULL, NULL, 0);
			if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != n)
			{
				*why = strdup(PQresultStatus(res) == PGRES_TUPLES_OK ?
							  "astpg.record_unchanged() returned a row count other than the one given" :
							  PQerrorMessage(st->conn));
				ok = false;
			}
			else
			{
				/* its rows come in the order given */
				int			row = 0;

				for (int j = i; j < st->npending; j++)
				{
					Pending    *p = &st->pending[j];

					if (p->repo != repo)
						continue;
					if (strcmp(PQgetvalue(res, row++, 0), "unchanged") == 0)
						batch->unchanged++;
					else
					{
						batch_append(batch, p->line, p->len);
						map_set(repo, p->path, NULL);
					}
					p->repo = NULL;
				}
			}
			PQclear(res);
		}
		free(paths.data);
		free(hashes.data);
		free(revisions.data);
	}
	for (int i = 0; i < st->npending; i++)
		free(st->pending[i].path);
	st->npending = 0;
	return ok;
}

void
sync_end(SyncState *st)
{
	if (st == NULL)
		return;
	for (int i = 0; i < st->npending; i++)
		free(st->pending[i].path);
	free(st->pending);
	if (st->conn)
		PQfinish(st->conn);
	while (st->repos)
	{
		Repo	   *repo = st->repos;

		st->repos = repo->next;
		for (size_t i = 0; i < repo->nslots; i++)
			free(repo->slots[i].path);
		free(repo->slots);
		free(repo->name);
		free(repo);
	}
	free(st->keys.repository.text);
	free(st->keys.path.text);
	free(st->keys.language.text);
	free(st->keys.content_hash.text);
	free(st->keys.revision.text);
	free(st->keys.key.text);
	free(st);
}

/*
 * sync_delete
 *		--sync, once every document is committed: delete the stored files
 *		of the repository whose paths no line named.  Sets loader->deleted.
 */
bool
sync_delete(Loader *loader, char **why)
{
	PGconn	   *conn = connect_db(&loader->opt);
	Text		keep = {0};
	const char *params[2];
	PGresult   *res;
	bool		ok;

	if (PQstatus(conn) != CONNECTION_OK)
	{
		*why = strdup(PQerrorMessage(conn));
		PQfinish(conn);
		return false;
	}
	text_put(&keep, "{", 1);
	for (size_t i = 0; i < nkeep; i++)
		text_element(&keep, keep_paths[i]);
	text_put(&keep, "}", 1);
	params[0] = loader->opt.sync_repository;
	params[1] = keep.data;
	res = PQexecParams(conn,
					   "SELECT count(*) FROM astpg.delete_files($1, $2::text[])",
					   2, NULL, params, NULL, NULL, 0);
	ok = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1;
	if (ok)
	{
		loader->deleted = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
		loader->synced = true;
	}
	else
		*why = strdup(PQerrorMessage(conn));
	PQclear(res);
	PQfinish(conn);
	free(keep.data);
	return ok;
}
