/*-------------------------------------------------------------------------
 *
 * columns.h
 *	  A column of a set-wise INSERT: the values and nulls of one column for
 *	  the rows of one document, bound as one array parameter.  Shared by the
 *	  writers (document_writer.c, routed_writer.c).
 *
 * IDENTIFICATION
 *	  src/columns.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef ASTPG_COLUMNS_H
#define ASTPG_COLUMNS_H

#include "astpg.h"

typedef struct Column
{
	Datum	   *values;
	bool	   *nulls;
} Column;

static inline Column
new_column(int n)
{
	Column		col;

	col.values = palloc(mul_size(sizeof(Datum), Max(n, 1)));
	col.nulls = palloc0(mul_size(sizeof(bool), Max(n, 1)));
	return col;
}

static inline void
set_pointer(Column *col, int i, void *value)
{
	col->values[i] = PointerGetDatum(value);
	col->nulls[i] = value == NULL;
}

/* For optional integers, where 0 means absent (lines and complexity are >= 1). */
static inline void
set_positive_int32(Column *col, int i, int32 value)
{
	col->values[i] = Int32GetDatum(value);
	col->nulls[i] = value == 0;
}

static inline Datum
column_array(Column *col, int n, Oid elemtype)
{
	return AstpgBuildArray(col->values, col->nulls, n, elemtype);
}

#endif							/* ASTPG_COLUMNS_H */
