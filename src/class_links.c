/*-------------------------------------------------------------------------
 *
 * class_links.c
 *	  Link a read document's classes and functions to their enclosing
 *	  classes, and refuse references that name none or parents that make a
 *	  cycle.
 *
 * The reader (document_reader.c) checks each value where it stands; what
 * this file checks spans the whole document: a "parent" or "class" names
 * a qualified_name that may come later in the document, and resolving it
 * needs every class.  Errors are SQLSTATE 22023 with the JSON path of the
 * referring value, as the reader's are.
 *
 * Memory contract: everything is allocated in CurrentMemoryContext, the
 * reader's.
 *
 * IDENTIFICATION
 *	  src/class_links.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "astpg.h"
#include "miscadmin.h"
#include "utils/builtins.h"

/*
 * Resolving references: the "parent" of a class and the "class" of a
 * function name the qualified_name of a class whose lines contain the
 * referring line_start; among several, the innermost (fewest lines; on a
 * tie, the first in the document), never the referring class itself.
 *
 * Names repeat (conditional definitions; generated code with 50,000
 * classes of one name), so looking each reference up among all classes of
 * its name would be quadratic.  Instead, for each name, its classes are
 * taken innermost first and each one claims every still unresolved
 * reference whose line it contains: the first class to claim a reference
 * is its innermost.  References are sorted by line, and the claimed ones
 * are skipped with a union-find "next unresolved" array, so each reference
 * is claimed once and passed over at most once (by the class that refers
 * to itself): O(n log n) for the sorts, near-linear after.
 */
typedef struct Reference
{
	text	   *name;			/* qualified_name of the wanted class */
	int32		line;			/* the referring line_start */
	int			self;			/* the referring class, or -1 */
	int		   *result;			/* where the found class position goes */
} Reference;

/* Classes by qualified_name, then innermost first, then document order. */
static int
compare_candidates(const void *a, const void *b, void *arg)
{
	AstpgClass *classes = (AstpgClass *) arg;
	int			ia = *(const int *) a;
	int			ib = *(const int *) b;
	AstpgClass *ca = &classes[ia];
	AstpgClass *cb = &classes[ib];
	int32		spana = ca->line_end - ca->line_start;
	int32		spanb = cb->line_end - cb->line_start;
	int			cmp = AstpgCompareBytes(ca->qualified_name, cb->qualified_name);

	if (cmp != 0)
		return cmp;
	if (spana != spanb)
		return spana < spanb ? -1 : 1;
	return (ia > ib) - (ia < ib);
}

/* References by name, then line. */
static int
compare_references(const void *a, const void *b)
{
	const Reference *ra = (const Reference *) a;
	const Reference *rb = (const Reference *) b;
	int			cmp = AstpgCompareBytes(ra->name, rb->name);

	if (cmp != 0)
		return cmp;
	return (ra->line > rb->line) - (ra->line < rb->line);
}

/* The first unresolved reference at or after position i (path halving). */
static int
next_unresolved(int *next, int i)
{
	while (next[i] != i)
	{
		next[i] = next[next[i]];
		i = next[i];
	}
	return i;
}

/*
 * Resolve the references refs[first..last), all of one name, against the
 * classes cands[0..ncands) of that name, innermost first.
 */
static void
resolve_group(AstpgDocument *doc, Reference *refs, int *next, int first,
			  int last, const int *cands, int ncands)
{
	for (int c = 0; c < ncands; c++)
	{
		AstpgClass *cls = &doc->classes[cands[c]];
		int			lo = first,
					hi = last;
		int			i;

		CHECK_FOR_INTERRUPTS();
		if (next_unresolved(next, first) >= last)
			break;				/* every reference of the name is resolved */

		/* the first reference of the group on or after the class's start */
		while (lo < hi)
		{
			int			mid = lo + (hi - lo) / 2;

			if (refs[mid].line < cls->line_start)
				lo = mid + 1;
			else
				hi = mid;
		}
		for (i = next_unresolved(next, lo);
			 i < last && refs[i].line <= cls->line_end;
			 i = next_unresolved(next, i + 1))
		{
			if (refs[i].self == cands[c])
				continue;		/* a class does not enclose itself */
			*refs[i].result = cands[c];
			next[i] = i + 1;
		}
	}
}

static void
resolve_references(AstpgDocument *doc)
{
	int			nrefs = 0;
	Reference  *refs;
	int		   *next;
	int		   *cands;
	int			c = 0;

	refs = palloc(mul_size(sizeof(Reference),
						   Max(doc->nclasses + doc->nfunctions, 1)));
	for (int i = 0; i < doc->nclasses; i++)
	{
		AstpgClass *cls = &doc->classes[i];

		CHECK_FOR_INTERRUPTS();
		cls->parent_index = -1;
		if (cls->parent == NULL)
			continue;
		refs[nrefs].name = cls->parent;
		refs[nrefs].line = cls->line_start;
		refs[nrefs].self = i;
		refs[nrefs].result = &cls->parent_index;
		nrefs++;
	}
	for (int i = 0; i < doc->nfunctions; i++)
	{
		AstpgFunction *fn = &doc->functions[i];

		CHECK_FOR_INTERRUPTS();
		fn->class_index = -1;
		if (fn->class_name == NULL)
			continue;
		refs[nrefs].name = fn->class_name;
		refs[nrefs].line = fn->line_start;
		refs[nrefs].self = -1;
		refs[nrefs].result = &fn->class_index;
		nrefs++;
	}
	if (nrefs == 0 || doc->nclasses == 0)
		return;

	qsort(refs, nrefs, sizeof(Reference), compare_references);
	cands = palloc(mul_size(sizeof(int), doc->nclasses));
	for (int i = 0; i < doc->nclasses; i++)
		cands[i] = i;
	qsort_arg(cands, doc->nclasses, sizeof(int), compare_candidates,
			  doc->classes);
	next = palloc(mul_size(sizeof(int), nrefs + 1));
	for (int i = 0; i <= nrefs; i++)
		next[i] = i;

	/* walk the two sorted lists side by side, one name at a time */
	for (int first = 0; first < nrefs;)
	{
		text	   *name = refs[first].name;
		int			last = first + 1;
		int			cmp = -1;
		int			cfirst;

		CHECK_FOR_INTERRUPTS();
		while (last < nrefs && AstpgCompareBytes(refs[last].name, name) == 0)
			last++;
		while (c < doc->nclasses &&
			   (cmp = AstpgCompareBytes(doc->classes[cands[c]].qualified_name,
								   name)) < 0)
			c++;
		cfirst = c;
		while (c < doc->nclasses && cmp == 0)
		{
			c++;
			if (c < doc->nclasses)
				cmp = AstpgCompareBytes(doc->classes[cands[c]].qualified_name,
								   name);
		}
		if (c > cfirst)
			resolve_group(doc, refs, next, first, last, &cands[cfirst],
						  c - cfirst);
		first = last;
	}
}

static void
no_enclosing_class(const char *root, const char *section, int index,
				   const char *key, text *name, int32 line)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("%s.%s[%d].%s names no enclosing class",
					root, section, index, key),
			 errdetail("No class with qualified_name \"%s\" contains line %d.",
					   text_to_cstring(name), line)));
}

/*
 * Refuse a class that encloses itself through its parents (A's parent B,
 * B's parent A): the stored parent_id links would make recursive queries
 * over them loop.  Default qualified names cannot make a cycle (a class's
 * is longer than its parent's); given ones can.  Parent links form a graph
 * of out-degree one, so one walk from every class, each class visited
 * once, finds every cycle; the first class in the document that lies on
 * one is reported.
 */
static void
check_parent_cycles(AstpgDocument *doc, const char *root)
{
	/* per class: 0 not yet seen, 1 on the current walk, 2 done */
	char	   *state = palloc0(Max(doc->nclasses, 1));
	int			first_on_cycle = -1;
	int			cycle_length = 0;

	for (int i = 0; i < doc->nclasses; i++)
	{
		int			j;

		CHECK_FOR_INTERRUPTS();
		for (j = i; j >= 0 && state[j] == 0; j = doc->classes[j].parent_index)
			state[j] = 1;
		if (j >= 0 && state[j] == 1)
		{
			/* the walk came back to a class of its own: a new cycle */
			int			lowest = j;
			int			length = 0;
			int			k = j;

			do
			{
				lowest = Min(lowest, k);
				length++;
				k = doc->classes[k].parent_index;
			} while (k != j);
			if (first_on_cycle < 0 || lowest < first_on_cycle)
			{
				first_on_cycle = lowest;
				cycle_length = length;
			}
		}
		for (j = i; j >= 0 && state[j] == 1; j = doc->classes[j].parent_index)
			state[j] = 2;
	}

	if (first_on_cycle >= 0)
	{
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s.classes[%d].parent makes a cycle", root,
						first_on_cycle),
				 errdetail("Following parent from this class leads back to it after %d steps.",
						   cycle_length)));
	}
}

/*
 * AstpgLinkClasses
 *		Link every "parent" and "class" of a read document to its class
 *		(parent_index, class_index), and refuse the document if one names no
 *		enclosing class (classes first, then functions, each in document
 *		order) or if parents make a cycle.  root names the document in error
 *		messages, as for AstpgReadDocument.
 */
void
AstpgLinkClasses(AstpgDocument *doc, const char *root)
{
	resolve_references(doc);
	for (int i = 0; i < doc->nclasses; i++)
	{
		AstpgClass *cls = &doc->classes[i];

		CHECK_FOR_INTERRUPTS();
		if (cls->parent != NULL && cls->parent_index < 0)
			no_enclosing_class(root, "classes", i, "parent", cls->parent,
							   cls->line_start);
	}
	check_parent_cycles(doc, root);
	for (int i = 0; i < doc->nfunctions; i++)
	{
		AstpgFunction *fn = &doc->functions[i];

		CHECK_FOR_INTERRUPTS();
		if (fn->class_name != NULL && fn->class_index < 0)
			no_enclosing_class(root, "functions", i, "class", fn->class_name,
							   fn->line_start);
	}
}
