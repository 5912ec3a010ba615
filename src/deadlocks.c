/*-------------------------------------------------------------------------
 *
 * deadlocks.c
 *	  Writers that deadlock try again, alone in their repository.
 *
 * A writer locks its own files in (repository, path) order, then the files
 * its dependencies name (FOR KEY SHARE), and last the dependency rows of
 * other files that now resolve to its own (SKIP LOCKED); delete_file()
 * locks its file and then the rows that point at it.  So two calls that
 * write files importing each other can each wait for the other, and
 * PostgreSQL breaks the cycle by failing one of them.
 *
 * Every write of a repository's files holds a lock on the repository, in
 * share mode, until its transaction ends: writers do not wait for each
 * other on it.  A call that is the first to write in its transaction holds
 * no lock but those it took itself, so when it is the one failed, rolling
 * its subtransaction back releases them all.  It then tries again holding
 * the repository's lock in exclusive mode: that waits for every transaction
 * writing the repository to end, and keeps new ones out until this one
 * ends, so the second attempt has nobody to deadlock with.  Its client
 * never sees the deadlock.  Writers that share no repository never wait
 * for each other's lock.
 *
 * A call in a transaction that wrote before holds locks of earlier
 * statements that nothing in the call can release: only its client can
 * retry it, from the start of its transaction (README, "Guarantees").
 *
 * The lock is an advisory lock (pg_locks: locktype advisory, classid
 * REPOSITORY_LOCK_CLASS, objid from the repository's repo_id, objsubid 2),
 * taken by astpg.lock_repository() in SQL too.
 *
 * IDENTIFICATION
 *	  src/deadlocks.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/transam.h"
#include "access/xact.h"
#include "astpg.h"
#include "common/pg_prng.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "storage/lock.h"
#include "utils/resowner.h"

/* "astp": advisory locks of this class are astpg's */
#define REPOSITORY_LOCK_CLASS 0x61737470

/* Does this backend write alone (a retry after a deadlock)? */
static bool writing_alone = false;

/*
 * AstpgFirstWriter
 *		Has the current transaction written nothing yet?  (Every row it
 *		locks or writes needs a transaction id; it has none before that.)
 */
bool
AstpgFirstWriter(void)
{
	return !FullTransactionIdIsValid(GetTopFullTransactionIdIfAny());
}

/*
 * AstpgWriteAlone
 *		From now on (alone) or no longer, take repositories' locks in
 *		exclusive mode.  Each write sets it before its first attempt, so an
 *		error that escaped a retry does not leave it set.
 */
void
AstpgWriteAlone(bool alone)
{
	writing_alone = alone;
}

bool
AstpgWritingAlone(void)
{
	return writing_alone;
}

/*
 * Lock the repository of repo_id until the transaction ends, in share or
 * in exclusive mode.
 *
 * The share lock belongs to the subtransaction that takes it, and goes
 * when an attempt is rolled back: two writers that retry must not both
 * hold it while each waits for the exclusive lock.  The exclusive lock
 * belongs to the top transaction: an attempt alone that is rolled back (a
 * rejected document) keeps it, and stays alone until the end.
 */
static void
lock_repository(int64 repo_id, bool exclusive)
{
	ResourceOwner owner = CurrentResourceOwner;
	LOCKTAG		tag;
	uint64		key = (uint64) repo_id;

	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, REPOSITORY_LOCK_CLASS,
						 (uint32) (key ^ (key >> 32)), 2);
	if (!exclusive)
	{
		(void) LockAcquire(&tag, ShareLock, false, false);
		return;
	}
	CurrentResourceOwner = TopTransactionResourceOwner;
	PG_TRY();
	{
		(void) LockAcquire(&tag, ExclusiveLock, false, false);
	}
	PG_FINALLY();
	{
		CurrentResourceOwner = owner;
	}
	PG_END_TRY();
}

/*
 * AstpgLockRepository
 *		Lock the repository of repo_id until the transaction ends: in share
 *		mode, or in exclusive mode when writing alone.
 */
void
AstpgLockRepository(int64 repo_id)
{
	lock_repository(repo_id, writing_alone);
}

/*
 * AstpgPauseBeforeRetry
 *		After a deadlock: a short pause, not in step with others that
 *		retry too, and the next attempt is made alone.
 */
void
AstpgPauseBeforeRetry(int attempt)
{
	pg_usleep(5000L * attempt + (long) (pg_prng_uint32(&pg_global_prng_state) % 10000));
	CHECK_FOR_INTERRUPTS();
	writing_alone = true;
}

/*
 * AstpgWriteRetryingDeadlocks
 *		Run fn(arg), a first writer's whole call, in a subtransaction; when
 *		a deadlock fails it, again, alone, a few times.  Returns NULL, or
 *		the error that ended the last attempt.  Writing alone ends with it.
 */
ErrorData *
AstpgWriteRetryingDeadlocks(void (*fn) (void *arg), void *arg)
{
	ErrorData  *edata;

	writing_alone = false;
	for (int attempt = 1;; attempt++)
	{
		edata = AstpgInSubtransaction(fn, arg);
		if (edata == NULL ||
			edata->sqlerrcode != ERRCODE_T_R_DEADLOCK_DETECTED ||
			attempt == ASTPG_WRITE_ATTEMPTS)
			break;
		FreeErrorData(edata);
		AstpgPauseBeforeRetry(attempt);
	}
	writing_alone = false;
	return edata;
}

/*
 * astpg.lock_repository(repo_id bigint, alone boolean) RETURNS void
 *
 * What the writers in C do before they write a repository's files, for
 * delete_file() and delete_files().
 */
PG_FUNCTION_INFO_V1(astpg_lock_repository);

Datum
astpg_lock_repository(PG_FUNCTION_ARGS)
{
	lock_repository(PG_GETARG_INT64(0), PG_GETARG_BOOL(1));
	PG_RETURN_VOID();
}
