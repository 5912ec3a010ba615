/*-------------------------------------------------------------------------
 *
 * util.c
 *	  Helpers that several of astpg's files share and that call nothing of
 *	  astpg's: the keys of repositories and files, arrays for statement
 *	  parameters, byte order of texts, the names of statuses, which errors
 *	  are a document's fault, and running a function in a subtransaction.
 *
 * IDENTIFICATION
 *	  src/util.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "astpg.h"
#include "common/cryptohash.h"
#include "common/sha2.h"
#include "port/pg_bswap.h"
#include "utils/array.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/resowner.h"

/*
 * SHA-256 of the given parts, one after another, into digest.  Each part is
 * a pointer and a length.
 */
static void
sha256_of(uint8 *digest, int nparts, const void *const *parts,
		  const size_t *lengths)
{
	pg_cryptohash_ctx *ctx = pg_cryptohash_create(PG_SHA256);

	if (pg_cryptohash_init(ctx) < 0)
		elog(ERROR, "could not compute SHA-256: %s", pg_cryptohash_error(ctx));
	for (int i = 0; i < nparts; i++)
		if (pg_cryptohash_update(ctx, parts[i], lengths[i]) < 0)
			elog(ERROR, "could not compute SHA-256: %s",
				 pg_cryptohash_error(ctx));
	if (pg_cryptohash_final(ctx, digest, PG_SHA256_DIGEST_LENGTH) < 0)
		elog(ERROR, "could not compute SHA-256: %s", pg_cryptohash_error(ctx));
	pg_cryptohash_free(ctx);
}

/*
 * AstpgFileKey
 *		SHA-256 of the length of repository, repository and path, as stored
 *		(in the database encoding): astpg.file_key().
 *
 * The unique index on (repository, path) is built on this key because a
 * btree entry holds at most about 2700 bytes, and a path may have 4096
 * characters, several bytes each.
 */
bytea *
AstpgFileKey(text *repository, text *path)
{
	uint32		repository_len = pg_hton32(VARSIZE_ANY_EXHDR(repository));
	bytea	   *result = palloc(VARHDRSZ + PG_SHA256_DIGEST_LENGTH);
	const void *parts[3] = {&repository_len, VARDATA_ANY(repository),
	VARDATA_ANY(path)};
	size_t		lengths[3] = {sizeof(repository_len),
		VARSIZE_ANY_EXHDR(repository), VARSIZE_ANY_EXHDR(path)};

	sha256_of((uint8 *) VARDATA(result), 3, parts, lengths);
	SET_VARSIZE(result, VARHDRSZ + PG_SHA256_DIGEST_LENGTH);
	return result;
}

/*
 * AstpgRepoId
 *		The key of a repository: the first 8 bytes of the SHA-256 of its name
 *		(as stored, in the database encoding), read as a big-endian bigint.
 *
 * Every table leads its keys with it, and it is what astpg is distributed
 * by on Citus: fixed-size whatever the name's length, and the same on every
 * node.  Two names share a key with a probability of about n^2 / 2^65.
 */
int64
AstpgRepoId(text *repository)
{
	uint8		digest[PG_SHA256_DIGEST_LENGTH];
	const void *parts[1] = {VARDATA_ANY(repository)};
	size_t		lengths[1] = {VARSIZE_ANY_EXHDR(repository)};
	uint64		key = 0;

	sha256_of(digest, 1, parts, lengths);
	for (int i = 0; i < 8; i++)
		key = (key << 8) | digest[i];
	return (int64) key;
}

/* AstpgBuildArray: a one-dimensional array of n elements, for a $n parameter. */
Datum
AstpgBuildArray(Datum *values, bool *nulls, int n, Oid elemtype)
{
	int16		typlen;
	bool		typbyval;
	char		typalign;
	int			dims[1];
	int			lbs[1] = {1};

	if (n == 0)
		return PointerGetDatum(construct_empty_array(elemtype));
	get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
	dims[0] = n;
	return PointerGetDatum(construct_md_array(values, nulls, 1, dims, lbs,
											  elemtype, typlen, typbyval,
											  typalign));
}

/*
 * AstpgCompareBytes
 *		Two texts (or byteas) in byte order, as COLLATE "C" orders them: the
 *		order astpg locks files and repositories in, and the order of names
 *		in the reader's lookups.  Neither may be NULL.
 */
int
AstpgCompareBytes(const text *a, const text *b)
{
	int			alen = VARSIZE_ANY_EXHDR(a);
	int			blen = VARSIZE_ANY_EXHDR(b);
	int			cmp = memcmp(VARDATA_ANY(a), VARDATA_ANY(b), Min(alen, blen));

	return cmp != 0 ? cmp : (alen > blen) - (alen < blen);
}

/* AstpgTextsEqual: the same bytes, or both NULL. */
bool
AstpgTextsEqual(const text *a, const text *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return AstpgCompareBytes(a, b) == 0;
}

/* The name of a status, as astpg.ingest_result and the audit log give it. */
const char *
AstpgStatusName(AstpgIngestStatus status)
{
	switch (status)
	{
		case ASTPG_INSERTED:
			return "inserted";
		case ASTPG_REPLACED:
			return "replaced";
		case ASTPG_UNCHANGED:
			return "unchanged";
		case ASTPG_REJECTED:
			return "rejected";
	}
	elog(ERROR, "unknown astpg ingest status %d", (int) status);
	return NULL;				/* keep compiler quiet */
}

/*
 * AstpgRefusalOfDocument
 *		Is this error about the document itself, rather than the
 *		circumstances?  Data exceptions (22), integrity constraint violations
 *		(23) and program limits (54, e.g. a value too large to store) are;
 *		a cancel, a deadlock or a serialization failure are not, and are
 *		never held against a document.
 */
bool
AstpgRefusalOfDocument(int sqlerrcode)
{
	int			category = ERRCODE_TO_CATEGORY(sqlerrcode);

	return category == ERRCODE_DATA_EXCEPTION ||
		category == ERRCODE_INTEGRITY_CONSTRAINT_VIOLATION ||
		category == ERRCODE_PROGRAM_LIMIT_EXCEEDED;
}

/*
 * AstpgInSubtransaction
 *		Run fn(arg) in a subtransaction of its own.  Returns NULL if it
 *		succeeded, or else its error, copied into the caller's memory context,
 *		the subtransaction rolled back (which releases every lock it took).
 *		The caller's memory context and resource owner are current again on
 *		return.
 */
ErrorData *
AstpgInSubtransaction(void (*fn) (void *arg), void *arg)
{
	MemoryContext caller_context = CurrentMemoryContext;
	ResourceOwner caller_owner = CurrentResourceOwner;
	ErrorData  *edata = NULL;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(caller_context);
	PG_TRY();
	{
		fn(arg);
		ReleaseCurrentSubTransaction();
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(caller_context);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
	}
	PG_END_TRY();
	MemoryContextSwitchTo(caller_context);
	CurrentResourceOwner = caller_owner;
	return edata;
}
