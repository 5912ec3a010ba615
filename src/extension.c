/*-------------------------------------------------------------------------
 *
 * extension.c
 *	  Where astpg's objects are, and whether they can be trusted.
 *
 * The writing functions run as SECURITY DEFINER with a superuser's rights,
 * so the objects they use must be the extension's own, not look-alikes.
 * They are found through the extension's catalog entry: its schema by OID
 * (a renamed schema is still found, and a new schema that merely has the
 * old name is not), and that schema must be owned by a superuser, since a
 * schema's owner may drop and create objects in it.  The install and
 * upgrade scripts refuse such a schema too; this check also covers a
 * schema given away after the extension was created.
 *
 * IDENTIFICATION
 *	  src/extension.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "astpg.h"
#include "catalog/indexing.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_namespace.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"

/* Read astpg's row of pg_extension: its OID, schema and version. */
static void
read_extension_row(AstpgExtension *ext)
{
	Relation	rel;
	SysScanDesc scan;
	ScanKeyData key;
	HeapTuple	tuple;
	Datum		version;
	bool		isnull;

	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_extension_extname, BTEqualStrategyNumber,
				F_NAMEEQ, CStringGetDatum("astpg"));
	scan = systable_beginscan(rel, ExtensionNameIndexId, true, NULL, 1, &key);
	tuple = systable_getnext(scan);
	if (!HeapTupleIsValid(tuple))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("extension \"astpg\" does not exist")));
	ext->oid = ((Form_pg_extension) GETSTRUCT(tuple))->oid;
	ext->schema_oid = ((Form_pg_extension) GETSTRUCT(tuple))->extnamespace;
	version = heap_getattr(tuple, Anum_pg_extension_extversion,
						   RelationGetDescr(rel), &isnull);
	ext->version = isnull ? pstrdup("") : TextDatumGetCString(version);
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
}

/*
 * AstpgCheckExtension
 *		Find astpg's OID, schema and version, and refuse to go on if a role
 *		that is not a superuser owns the schema.  One index lookup in
 *		pg_extension and one in the catalog cache: cheap enough for every
 *		call of an entry point.
 */
void
AstpgCheckExtension(AstpgExtension *ext)
{
	HeapTuple	tuple;
	Oid			owner;

	read_extension_row(ext);
	tuple = SearchSysCache1(NAMESPACEOID, ObjectIdGetDatum(ext->schema_oid));
	if (!HeapTupleIsValid(tuple))
		elog(ERROR, "cache lookup failed for schema %u", ext->schema_oid);
	ext->schema_name = pstrdup(NameStr(((Form_pg_namespace) GETSTRUCT(tuple))->nspname));
	owner = ((Form_pg_namespace) GETSTRUCT(tuple))->nspowner;
	ReleaseSysCache(tuple);

	if (!superuser_arg(owner))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("schema \"%s\" of extension astpg is owned by role \"%s\", which is not a superuser",
						ext->schema_name, GetUserNameFromId(owner, false)),
				 errdetail("Its owner could replace astpg's objects with its own, which astpg's functions would then run with a superuser's rights."),
				 errhint("Have a superuser own the schema, or drop the extension and create it again.")));
}
