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
 * other on it.  A call whose transaction held no lock a writer could wait
 * for before it began (AstpgFirstWriter, checked again when it fails:
 * holds_only_weak_locks) holds no lock but those it took itself, so when
 * it is the one failed, rolling its subtransaction back releases them all.
 * It then tries again holding the repository's lock in exclusive mode:
 * that waits for every transaction writing the repository to end, and
 * keeps new ones out until this one ends, so the second attempt has nobody
 * to deadlock with.  Its client never sees the deadlock.  Writers that
 * share no repository never wait for each other's lock.  Attempts are
 * bounded (ASTPG_WRITE_ATTEMPTS).
 *
 * A call in a transaction that wrote before, or that holds a lock of its
 * own (LOCK TABLE, an advisory lock), holds locks that nothing in the call
 * can release: only its client can retry it, from the start of its
 * transaction.
 *
 * The repository lock is an advisory lock in a key space of astpg's own:
 * pg_locks shows it as locktype advisory, classid and objid the high and
 * low 32 bits of the repository's repo_id, objsubid ASTPG_LOCK_SPACE.
 * pg_advisory_lock() takes objsubid 1 (a bigint key) or 2 (two integer
 * keys), so no user's advisory lock can be the same lock.
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
#include "miscadmin.h"
#include "storage/lock.h"
#include "utils/resowner.h"

/*
 * The fourth field of astpg's advisory lock tags ("as"): neither 1 nor 2,
 * the spaces of pg_advisory_lock(bigint) and pg_advisory_lock(int, int).
 */
#define ASTPG_LOCK_SPACE 0x6173

/*
 * AstpgFirstWriter
 *		Has the current transaction written nothing yet?  (Every row it
 *		locks or writes needs a transaction id; it has none before that.)
 *		Cheap enough for every call; a call it admits that then meets a
 *		deadlock checks the transaction's locks before it retries.
 */
bool
AstpgFirstWriter(void)
{
	return !FullTransactionIdIsValid(GetTopFullTransactionIdIfAny());
}

/*
 * Does this backend hold no lock that a writer could wait for, but its own
 * transaction ids and relation locks weaker than SHARE (those of reading
 * and of the statement that called astpg, which writers' ROW EXCLUSIVE
 * locks do not conflict with)?  Asked only after a deadlock of a first
 * writer, once the failed attempt's subtransaction released what it took.
 * The ids its transaction still holds are those of the top transaction
 * and of the subtransactions that enclose the call (a client's SAVEPOINT,
 * an exception block): they had none before the call, and were assigned
 * as parents of the attempt's own, so the only rows written under them
 * are new rows of astpg.rejects, which no writer ever waits for.  The
 * answer reads the whole lock table, as pg_locks does, which is why it is
 * not asked before every call.
 */
static bool
holds_only_weak_locks(void)
{
	LockData   *data = GetLockStatusData();
	LOCKMASK	weak = LOCKBIT_ON(AccessShareLock) | LOCKBIT_ON(RowShareLock) |
		LOCKBIT_ON(RowExclusiveLock);

	for (int i = 0; i < data->nelements; i++)
	{
		LockInstanceData *lock = &data->locks[i];

		if (lock->pid != MyProcPid || lock->holdMask == 0)
			continue;
		if (lock->locktag.locktag_type == LOCKTAG_VIRTUALTRANSACTION)
			continue;
		/* ids assigned for the failed attempt's: no row waits for them */
		if (lock->locktag.locktag_type == LOCKTAG_TRANSACTION &&
			TransactionIdIsCurrentTransactionId(lock->locktag.locktag_field1))
			continue;
		if (lock->locktag.locktag_type == LOCKTAG_RELATION &&
			(lock->holdMask & ~weak) == 0)
			continue;
		return false;
	}
	return true;
}

/*
 * AstpgLockRepository
 *		Lock the repository of repo_id until the transaction ends: in share
 *		mode, or in exclusive mode when writing alone.
 *
 * The share lock belongs to the subtransaction that takes it, and goes
 * when an attempt is rolled back: two writers that retry must not both
 * hold it while each waits for the exclusive lock.  The exclusive lock
 * belongs to the top transaction: an attempt alone that is rolled back (a
 * rejected document) keeps it, and stays alone until the end.
 */
void
AstpgLockRepository(int64 repo_id, bool alone)
{
	ResourceOwner owner = CurrentResourceOwner;
	LOCKTAG		tag;
	uint64		key = (uint64) repo_id;

	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, (uint32) (key >> 32),
						 (uint32) key, ASTPG_LOCK_SPACE);
	if (!alone)
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
 * After a deadlock: a short pause, not in step with others that retry too
 * (the next attempt is made alone).
 */
static void
pause_before_retry(int attempt)
{
	pg_usleep(5000L * attempt + (long) (pg_prng_uint32(&pg_global_prng_state) % 10000));
	CHECK_FOR_INTERRUPTS();
}

/*
 * AstpgRetryDeadlocks
 *		Make attempt(arg, alone), which rolls back what it did when it
 *		fails and returns its error (or NULL), until it succeeds or fails
 *		for another reason than a deadlock; after a deadlock again, alone,
 *		if may_retry (the caller held no lock before its first attempt) and
 *		the transaction still holds none a writer could wait for.  At most
 *		ASTPG_WRITE_ATTEMPTS attempts.  Returns the last attempt's error.
 */
ErrorData *
AstpgRetryDeadlocks(ErrorData *(*attempt) (void *arg, bool alone), void *arg,
					bool may_retry)
{
	ErrorData  *edata;

	for (int n = 1;; n++)
	{
		edata = attempt(arg, n > 1);
		if (edata == NULL ||
			edata->sqlerrcode != ERRCODE_T_R_DEADLOCK_DETECTED ||
			!may_retry || n == ASTPG_WRITE_ATTEMPTS ||
			!holds_only_weak_locks())
			return edata;
		FreeErrorData(edata);
		pause_before_retry(n);
	}
}

/* A whole call, made in a subtransaction: AstpgWriteRetryingDeadlocks. */
typedef struct Call
{
	void		(*fn) (void *arg, bool alone);
	void	   *arg;
	bool		alone;
} Call;

static void
run_call(void *arg)
{
	Call	   *call = (Call *) arg;

	call->fn(call->arg, call->alone);
}

static ErrorData *
call_in_subtransaction(void *arg, bool alone)
{
	Call	   *call = (Call *) arg;

	call->alone = alone;
	return AstpgInSubtransaction(run_call, call);
}

/*
 * AstpgWriteRetryingDeadlocks
 *		Run fn(arg, alone), a first writer's whole call, in a subtransaction;
 *		when a deadlock fails it, again, alone (AstpgRetryDeadlocks).
 *		Returns NULL, or the error that ended the last attempt.
 */
ErrorData *
AstpgWriteRetryingDeadlocks(void (*fn) (void *arg, bool alone), void *arg)
{
	Call		call = {fn, arg, false};

	return AstpgRetryDeadlocks(call_in_subtransaction, &call, true);
}
