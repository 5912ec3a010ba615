/*-------------------------------------------------------------------------
 *
 * columns.h
 *	  A column of a set-wise INSERT: the values and nulls of one column for
 *	  the rows of a batch, bound as one array parameter (batch_writer.c).
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

/* The id of the row at index (0-based) among ids, or NULL for none (-1). */
static inline void
set_id(Column *col, int i, const int64 *ids, int index)
{
	col->values[i] = Int64GetDatum(index >= 0 ? ids[index] : 0);
	col->nulls[i] = index < 0;
}

/* A jsonb value, or the column's default where the document gives none. */
static inline void
set_jsonb_or(Column *col, int i, Jsonb *value, Jsonb *fallback)
{
	col->values[i] = PointerGetDatum(value != NULL ? value : fallback);
	col->nulls[i] = false;
}

static inline Datum
column_array(Column *col, int n, Oid elemtype)
{
	return AstpgBuildArray(col->values, col->nulls, n, elemtype);
}

#endif							/* ASTPG_COLUMNS_H */
