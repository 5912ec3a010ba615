/*-------------------------------------------------------------------------
 *
 * counts.c
 *	  What this session ingested in its current transaction, by any entry
 *	  point: astpg.ingest_counts(), which a loader reads before each COMMIT
 *	  to report what the batch did, and the inbox's numbering of documents.
 *
 * A rollback to a savepoint takes back what it undid: the counts as a
 * subtransaction found them are kept until it ends, and put back if it is
 * rolled back.  They are kept only once astpg counts something inside it,
 * so that the subtransactions of a session that loaded astpg but does not
 * write with it cost nothing more than a test of a pointer.
 *
 * Memory contract: the saved counts live in TopTransactionContext and are
 * forgotten when the transaction ends.
 *
 * IDENTIFICATION
 *	  src/counts.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "astpg.h"
#include "storage/proc.h"
#include "utils/memutils.h"

typedef struct IngestCounts
{
	LocalTransactionId lxid;	/* tells when a new transaction has begun */
	int64		documents;
	int64		inserted;
	int64		replaced;
	int64		unchanged;
	int64		rejected;
	int64		rows;
	int64		positions;		/* inbox documents numbered so far */
} IngestCounts;

static IngestCounts counts;

/*
 * The counts as each open subtransaction that changed them found them,
 * innermost first.
 */
typedef struct SavedCounts
{
	SubTransactionId subid;
	IngestCounts counts;
	struct SavedCounts *next;
} SavedCounts;

static SavedCounts *saved_counts = NULL;

static IngestCounts *
current_counts(void)
{
	if (counts.lxid != MyProc->lxid)
	{
		memset(&counts, 0, sizeof(counts));
		counts.lxid = MyProc->lxid;
		saved_counts = NULL;
	}
	return &counts;
}

/*
 * The counts, about to change: first kept as the current subtransaction
 * found them, if it is one and they are not kept for it yet.
 */
static IngestCounts *
counts_to_change(void)
{
	IngestCounts *c = current_counts();
	SubTransactionId subid = GetCurrentSubTransactionId();

	if (subid != TopSubTransactionId &&
		(saved_counts == NULL || saved_counts->subid != subid))
	{
		SavedCounts *top = MemoryContextAlloc(TopTransactionContext,
											  sizeof(SavedCounts));

		top->subid = subid;
		top->counts = *c;
		top->next = saved_counts;
		saved_counts = top;
	}
	return c;
}

/*
 * A subtransaction that changed the counts ends: rolled back, they are
 * what it found; committed, its parent may still be rolled back, so what
 * it found is kept for the parent, unless the parent has counts of its own
 * kept already (older, and so right for it).
 */
static void
counts_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
						SubTransactionId parentSubid, void *arg)
{
	SavedCounts *top = saved_counts;

	if (top == NULL || top->subid != mySubid ||
		(event != SUBXACT_EVENT_COMMIT_SUB && event != SUBXACT_EVENT_ABORT_SUB))
		return;
	saved_counts = top->next;
	if (event == SUBXACT_EVENT_ABORT_SUB)
		counts = top->counts;
	else if (parentSubid != TopSubTransactionId &&
			 (saved_counts == NULL || saved_counts->subid != parentSubid))
	{
		top->subid = parentSubid;
		top->next = saved_counts;
		saved_counts = top;
		return;
	}
	pfree(top);
}

static void
counts_xact_callback(XactEvent event, void *arg)
{
	saved_counts = NULL;		/* went with TopTransactionContext */
}

/* AstpgInitCounts: called once, when the library is loaded. */
void
AstpgInitCounts(void)
{
	RegisterSubXactCallback(counts_subxact_callback, NULL);
	RegisterXactCallback(counts_xact_callback, NULL);
}

/* AstpgCountResult: one more document of the current transaction. */
void
AstpgCountResult(const AstpgIngestResult *result)
{
	IngestCounts *c = counts_to_change();

	c->documents++;
	switch (result->status)
	{
		case ASTPG_INSERTED:
			c->inserted++;
			break;
		case ASTPG_REPLACED:
			c->replaced++;
			break;
		case ASTPG_UNCHANGED:
			c->unchanged++;
			break;
		case ASTPG_REJECTED:
			c->rejected++;
			break;
	}
	if (result->status == ASTPG_INSERTED || result->status == ASTPG_REPLACED)
		c->rows += 1 + (int64) result->classes + result->functions +
			result->calls + result->dependencies + result->metrics;
}

/* AstpgNextInboxPosition: the position of the inbox's next document. */
int64
AstpgNextInboxPosition(void)
{
	return counts_to_change()->positions++;
}

/* AstpgIngestCountsDatum: the astpg.ingest_counts tuple of the transaction. */
Datum
AstpgIngestCountsDatum(TupleDesc tupdesc)
{
	IngestCounts *c = current_counts();
	Datum		values[6];
	bool		nulls[6] = {0};

	values[0] = Int64GetDatum(c->documents);
	values[1] = Int64GetDatum(c->inserted);
	values[2] = Int64GetDatum(c->replaced);
	values[3] = Int64GetDatum(c->unchanged);
	values[4] = Int64GetDatum(c->rejected);
	values[5] = Int64GetDatum(c->rows);
	return HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls));
}
