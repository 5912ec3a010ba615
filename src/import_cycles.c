/*-------------------------------------------------------------------------
 *
 * import_cycles.c
 *	  astpg.import_cycles(repository): the import cycles of a repository,
 *	  as the strongly connected components of its resolved import graph.
 *
 * The edges of one repository are read once from astpg.module_edges, in
 * batches through a cursor, and numbered densely on the way (a hash table
 * from file id to node).  The graph is then held as CSR arrays: the targets
 * of node v are targets[offsets[v] .. offsets[v + 1] - 1].  Tarjan's
 * algorithm finds the components without recursion, since a component may
 * hold thousands of files and the C stack is not sized for that.  Self
 * imports are not cycles worth reporting and are left out; a component of
 * one file is not a cycle either.
 *
 * For each component of two files or more, one shortest cycle is given as
 * an example: the shortest path back to itself from each of its files in
 * turn (breadth first, inside the component), keeping the first of the
 * shortest.  Files are tried in order of path, and a search from a file
 * only visits files that sort after it: a shorter cycle through an earlier
 * file would have been found from that file.  The answer is therefore the
 * same on every run, whatever order the edges come in, and the cycle starts
 * at the file whose path sorts first among its files.
 *
 * Paths are read in a second statement, for the files of the components
 * only.  Both statements run read-only in the caller's snapshot, so they
 * see the same state of the database.  A file that is gone from astpg.files
 * (the materialized view not refreshed since it was deleted) has a NULL
 * path, sorted after every path.
 *
 * Memory: everything about the graph lives in a memory context of its own,
 * a child of the caller's, deleted before returning; values read through
 * SPI are copied into it before SPI_finish.  Rows go to the tuplestore of
 * the call (materialized mode), which copies them.
 *
 * Transactions: the function only reads, in the caller's transaction.
 *
 * IDENTIFICATION
 *	  src/import_cycles.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "astpg.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/tuplestore.h"

/* rows fetched from the edge cursor at a time: bounds SPI's memory */
#define EDGE_BATCH 10000

/* what the hash table keeps of a file: its node number */
typedef struct FileNode
{
	int64		file_id;		/* hash key */
	int32		node;
} FileNode;

typedef struct ImportGraph
{
	MemoryContext cxt;

	/* nodes: files, numbered 0 .. nnodes - 1 in order of first sight */
	HTAB	   *nodes;
	int32		nnodes;
	int32		node_capacity;
	int64	   *file_id;		/* by node */

	/* edges as read, then as CSR */
	int32		nedges;
	int32		edge_capacity;
	int32	   *edge_source;
	int32	   *edge_target;
	int32	   *offsets;		/* nnodes + 1 */
	int32	   *targets;		/* nedges */

	/* components of 2 files or more, numbered 0 .. ncomponents - 1 */
	int32		ncomponents;
	int32	   *component;		/* by node; -1 when in no such component */
	int32		nmembers;		/* files in all those components */
	int32	   *members;		/* by component, each in order of path */
	int32	   *member_offsets; /* ncomponents + 1 */
	int32	   *position;		/* by node: its index in its component */

	char	  **path;			/* by node; NULL when not read or gone */
} ImportGraph;

/* Comparators for qsort and qsort_arg. */
static int
compare_int32(const void *a, const void *b)
{
	int32		x = *(const int32 *) a;
	int32		y = *(const int32 *) b;

	return (x > y) - (x < y);
}

/* By path (byte order, NULL last), then by file id. */
static int
compare_nodes_by_path(const void *a, const void *b, void *arg)
{
	ImportGraph *g = (ImportGraph *) arg;
	int32		x = *(const int32 *) a;
	int32		y = *(const int32 *) b;

	if (g->path[x] != NULL && g->path[y] != NULL)
	{
		int			c = strcmp(g->path[x], g->path[y]);

		if (c != 0)
			return c;
	}
	else if (g->path[x] != NULL)
		return -1;
	else if (g->path[y] != NULL)
		return 1;
	return (g->file_id[x] > g->file_id[y]) - (g->file_id[x] < g->file_id[y]);
}

/*
 * By size, largest first, then by smallest path: a component's members
 * are in order of path, so its first member has its smallest path.
 */
static int
compare_components(const void *a, const void *b, void *arg)
{
	ImportGraph *g = (ImportGraph *) arg;
	int32		x = *(const int32 *) a;
	int32		y = *(const int32 *) b;
	int32		size_x = g->member_offsets[x + 1] - g->member_offsets[x];
	int32		size_y = g->member_offsets[y + 1] - g->member_offsets[y];

	if (size_x != size_y)
		return (size_x < size_y) - (size_x > size_y);
	return compare_nodes_by_path(&g->members[g->member_offsets[x]],
								 &g->members[g->member_offsets[y]], g);
}

/* An array of n elements of size elsize in the graph's context. */
static void *
graph_alloc(ImportGraph *g, Size n, Size elsize)
{
	return MemoryContextAllocHuge(g->cxt, mul_size(n, elsize));
}

/* The node of a file, numbering it if it is new. */
static int32
node_of(ImportGraph *g, int64 file_id)
{
	FileNode   *entry;
	bool		found;

	entry = (FileNode *) hash_search(g->nodes, &file_id, HASH_ENTER, &found);
	if (found)
		return entry->node;

	if (g->nnodes == g->node_capacity)
	{
		if (g->node_capacity >= PG_INT32_MAX / 2)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("too many files in the import graph")));
		g->node_capacity *= 2;
		g->file_id = repalloc_huge(g->file_id,
								   mul_size(g->node_capacity, sizeof(int64)));
	}
	entry->node = g->nnodes;
	g->file_id[g->nnodes] = file_id;
	return g->nnodes++;
}

static void
add_edge(ImportGraph *g, int64 source_file_id, int64 target_file_id)
{
	Size		size;

	if (g->nedges == g->edge_capacity)
	{
		if (g->edge_capacity >= PG_INT32_MAX / 2)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("too many edges in the import graph")));
		g->edge_capacity *= 2;
		size = mul_size(g->edge_capacity, sizeof(int32));
		g->edge_source = repalloc_huge(g->edge_source, size);
		g->edge_target = repalloc_huge(g->edge_target, size);
	}
	g->edge_source[g->nedges] = node_of(g, source_file_id);
	g->edge_target[g->nedges] = node_of(g, target_file_id);
	g->nedges++;
}

/*
 * Read the repository's edges from astpg.module_edges.  A cursor, rather
 * than one SPI_execute, so that SPI never holds more than a batch of rows
 * besides the graph itself.  The plan is made for this call's repo_id: the
 * statement runs once per call, so there is nothing to gain from keeping it.
 */
static void
read_edges(ImportGraph *g, const char *schema, int64 repo_id)
{
	char	   *sql;
	Oid			argtypes[1] = {INT8OID};
	Datum		args[1];
	Portal		portal;

	sql = psprintf("SELECT e.source_file_id, e.target_file_id"
				   "  FROM %s.module_edges e"
				   " WHERE e.repo_id OPERATOR(pg_catalog.=) $1",
				   schema);
	args[0] = Int64GetDatum(repo_id);

	/* SPI_cursor_open_with_args reports its failures itself, with ERROR */
	portal = SPI_cursor_open_with_args(NULL, sql, 1, argtypes, args, NULL,
									   true, CURSOR_OPT_NO_SCROLL);
	for (;;)
	{
		SPI_cursor_fetch(portal, true, EDGE_BATCH);
		if (SPI_processed == 0)
			break;
		for (uint64 i = 0; i < SPI_processed; i++)
		{
			HeapTuple	tuple = SPI_tuptable->vals[i];
			TupleDesc	tupdesc = SPI_tuptable->tupdesc;
			bool		source_null;
			bool		target_null;
			Datum		source;
			Datum		target;

			CHECK_FOR_INTERRUPTS();
			source = SPI_getbinval(tuple, tupdesc, 1, &source_null);
			target = SPI_getbinval(tuple, tupdesc, 2, &target_null);
			/* unresolved and self imports make no cycle */
			if (source_null || target_null ||
				DatumGetInt64(source) == DatumGetInt64(target))
				continue;
			add_edge(g, DatumGetInt64(source), DatumGetInt64(target));
		}
		SPI_freetuptable(SPI_tuptable);
	}
	SPI_freetuptable(SPI_tuptable);
	SPI_cursor_close(portal);
	pfree(sql);
}

/* Turn the edge list into CSR arrays (a counting sort by source). */
static void
build_csr(ImportGraph *g)
{
	int32	   *next;

	g->offsets = graph_alloc(g, add_size(g->nnodes, 1), sizeof(int32));
	g->targets = graph_alloc(g, Max(g->nedges, 1), sizeof(int32));
	memset(g->offsets, 0, mul_size(add_size(g->nnodes, 1), sizeof(int32)));
	for (int32 e = 0; e < g->nedges; e++)
		g->offsets[g->edge_source[e] + 1]++;
	for (int32 v = 0; v < g->nnodes; v++)
		g->offsets[v + 1] += g->offsets[v];

	next = graph_alloc(g, Max(g->nnodes, 1), sizeof(int32));
	memcpy(next, g->offsets, mul_size(g->nnodes, sizeof(int32)));
	for (int32 e = 0; e < g->nedges; e++)
	{
		CHECK_FOR_INTERRUPTS();
		g->targets[next[g->edge_source[e]]++] = g->edge_target[e];
	}
	pfree(next);
	pfree(g->edge_source);
	pfree(g->edge_target);
	g->edge_source = g->edge_target = NULL;
}

/*
 * Tarjan's strongly connected components, with an explicit stack of the
 * nodes being explored (call) and of where each is in its edges (next).
 * Sets g->component for nodes in components of 2 or more, and counts them.
 */
static void
find_components(ImportGraph *g)
{
	int32		n = g->nnodes;
	int32	   *index = graph_alloc(g, n, sizeof(int32));
	int32	   *lowlink = graph_alloc(g, n, sizeof(int32));
	int32	   *next = graph_alloc(g, n, sizeof(int32));
	int32	   *call = graph_alloc(g, n, sizeof(int32));
	int32	   *stack = graph_alloc(g, n, sizeof(int32));
	bool	   *on_stack = graph_alloc(g, n, sizeof(bool));
	int32		counter = 0;
	int32		ncall = 0;
	int32		nstack = 0;

	g->component = graph_alloc(g, n, sizeof(int32));
	g->ncomponents = 0;
	g->nmembers = 0;
	for (int32 v = 0; v < n; v++)
	{
		index[v] = -1;
		on_stack[v] = false;
		g->component[v] = -1;
	}

	for (int32 root = 0; root < n; root++)
	{
		if (index[root] >= 0)
			continue;

		/* visit root */
		index[root] = lowlink[root] = counter++;
		next[root] = g->offsets[root];
		stack[nstack++] = root;
		on_stack[root] = true;
		call[ncall++] = root;

		while (ncall > 0)
		{
			int32		v = call[ncall - 1];

			CHECK_FOR_INTERRUPTS();
			if (next[v] < g->offsets[v + 1])
			{
				int32		w = g->targets[next[v]++];

				if (index[w] < 0)
				{
					/* descend into w */
					index[w] = lowlink[w] = counter++;
					next[w] = g->offsets[w];
					stack[nstack++] = w;
					on_stack[w] = true;
					call[ncall++] = w;
				}
				else if (on_stack[w])
					lowlink[v] = Min(lowlink[v], index[w]);
				continue;
			}

			/* all of v's edges done: return from v */
			ncall--;
			if (lowlink[v] == index[v])
			{
				int32		first = nstack - 1;
				int32		size;

				/* v and the nodes above it on the stack are a component */
				while (stack[first] != v)
					first--;
				size = nstack - first;
				for (int32 i = first; i < nstack; i++)
				{
					on_stack[stack[i]] = false;
					if (size >= 2)
						g->component[stack[i]] = g->ncomponents;
				}
				if (size >= 2)
				{
					g->ncomponents++;
					g->nmembers += size;
				}
				nstack = first;
			}
			if (ncall > 0)
			{
				int32		u = call[ncall - 1];

				lowlink[u] = Min(lowlink[u], lowlink[v]);
			}
		}
	}

	pfree(index);
	pfree(lowlink);
	pfree(next);
	pfree(call);
	pfree(stack);
	pfree(on_stack);
}

/*
 * Read the paths of the files in components, in one statement, copying
 * them into the graph's context.
 */
static void
read_paths(ImportGraph *g, const char *schema, int64 repo_id)
{
	char	   *sql;
	Oid			argtypes[2] = {INT8ARRAYOID, INT8OID};
	Datum		args[2];
	Datum	   *ids;
	int32		nids = 0;
	int			ret;

	g->path = graph_alloc(g, g->nnodes, sizeof(char *));
	memset(g->path, 0, mul_size(g->nnodes, sizeof(char *)));

	ids = graph_alloc(g, g->nmembers, sizeof(Datum));
	for (int32 v = 0; v < g->nnodes; v++)
		if (g->component[v] >= 0)
			ids[nids++] = Int64GetDatum(g->file_id[v]);

	/*
	 * repo_id is implied by the file ids (edges only join files of one
	 * repository) but lets the primary key (file_id, repo_id) be used whole,
	 * and lets Citus send the statement to the repository's one shard.
	 */
	sql = psprintf("SELECT f.file_id, f.path"
				   "  FROM %s.files f"
				   " WHERE f.file_id OPERATOR(pg_catalog.=) ANY ($1)"
				   "   AND f.repo_id OPERATOR(pg_catalog.=) $2",
				   schema);
	args[0] = AstpgBuildArray(ids, NULL, nids, INT8OID);
	args[1] = Int64GetDatum(repo_id);
	ret = SPI_execute_with_args(sql, 2, argtypes, args, NULL, true, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not read the paths of import cycles: %s",
			 SPI_result_code_string(ret));

	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tuple = SPI_tuptable->vals[i];
		TupleDesc	tupdesc = SPI_tuptable->tupdesc;
		bool		isnull;
		int64		file_id;
		Datum		path;
		FileNode   *entry;
		MemoryContext old;

		CHECK_FOR_INTERRUPTS();
		file_id = DatumGetInt64(SPI_getbinval(tuple, tupdesc, 1, &isnull));
		if (isnull)
			continue;
		entry = (FileNode *) hash_search(g->nodes, &file_id, HASH_FIND, NULL);
		path = SPI_getbinval(tuple, tupdesc, 2, &isnull);
		if (entry == NULL || isnull)
			continue;
		old = MemoryContextSwitchTo(g->cxt);
		g->path[entry->node] = TextDatumGetCString(path);
		MemoryContextSwitchTo(old);
	}
	SPI_freetuptable(SPI_tuptable);
	pfree(sql);
	pfree(ids);
}

/*
 * Group the files of components by component, each group in order of path,
 * and note each file's position in its group.
 */
static void
group_members(ImportGraph *g)
{
	int32	   *sorted = graph_alloc(g, Max(g->nmembers, 1), sizeof(int32));
	int32	   *next;
	int32		nsorted = 0;

	for (int32 v = 0; v < g->nnodes; v++)
		if (g->component[v] >= 0)
			sorted[nsorted++] = v;
	qsort_arg(sorted, nsorted, sizeof(int32), compare_nodes_by_path, g);

	g->member_offsets = graph_alloc(g, add_size(g->ncomponents, 1),
									sizeof(int32));
	memset(g->member_offsets, 0,
		   mul_size(add_size(g->ncomponents, 1), sizeof(int32)));
	for (int32 i = 0; i < nsorted; i++)
		g->member_offsets[g->component[sorted[i]] + 1]++;
	for (int32 c = 0; c < g->ncomponents; c++)
		g->member_offsets[c + 1] += g->member_offsets[c];

	g->members = graph_alloc(g, Max(g->nmembers, 1), sizeof(int32));
	g->position = graph_alloc(g, g->nnodes, sizeof(int32));
	next = graph_alloc(g, Max(g->ncomponents, 1), sizeof(int32));
	memcpy(next, g->member_offsets, mul_size(g->ncomponents, sizeof(int32)));
	for (int32 i = 0; i < nsorted; i++)
	{
		int32		v = sorted[i];
		int32		c = g->component[v];

		g->position[v] = next[c] - g->member_offsets[c];
		g->members[next[c]++] = v;
	}
	pfree(next);
	pfree(sorted);
}

/*
 * Scratch space for the cycle searches, sized for the largest component
 * and used by one component after another.  The component's files are
 * numbered by their position in it (their order of path), and its edges
 * are held as CSR arrays in those numbers, each file's targets in
 * increasing order, so that the search visits files in order of path.
 */
typedef struct CycleSearch
{
	int32	   *offsets;		/* size + 1 */
	int32	   *targets;		/* edges inside the component */
	int32	   *last_source;	/* the last file with an edge to each, or -1 */
	int32	   *dist;			/* -1 when not reached */
	int32	   *parent;
	int32	   *queue;
	int32	   *cycle;			/* the shortest cycle found so far */
	int32		cycle_length;
} CycleSearch;

/* The component's edges, in its files' positions (see CycleSearch). */
static void
component_csr(ImportGraph *g, int32 c, CycleSearch *s)
{
	int32		first = g->member_offsets[c];
	int32		size = g->member_offsets[c + 1] - first;
	int32		nedges = 0;

	s->offsets[0] = 0;
	for (int32 i = 0; i < size; i++)
		s->last_source[i] = -1;
	for (int32 i = 0; i < size; i++)
	{
		int32		v = g->members[first + i];
		int32		start = nedges;

		CHECK_FOR_INTERRUPTS();
		for (int32 e = g->offsets[v]; e < g->offsets[v + 1]; e++)
		{
			int32		w = g->targets[e];

			if (g->component[w] == c)
			{
				s->targets[nedges++] = g->position[w];
				s->last_source[g->position[w]] = i;
			}
		}
		qsort(&s->targets[start], nedges - start, sizeof(int32), compare_int32);
		s->offsets[i + 1] = nedges;
	}
}

/*
 * A shortest cycle of component c, into s->cycle (positions in the
 * component, from the file whose path sorts first).
 *
 * From each file in order of path, a breadth-first search over the files
 * after it, for the shortest path back to it.  A search stops as soon as
 * it can no longer beat the shortest cycle found so far, and the whole
 * stops at a cycle of 2, the shortest there is.  Files before the start
 * are left out because any cycle through them shorter than the best so far
 * was already found from them.  So a file that no later file imports is on
 * no cycle left to find, and is not searched from: without that, a long
 * ring of files imported in order of path would cost its length squared.
 */
static void
shortest_cycle(int32 size, CycleSearch *s)
{
	s->cycle_length = PG_INT32_MAX;
	for (int32 i = 0; i < size; i++)
		s->dist[i] = -1;

	for (int32 start = 0; start < size && s->cycle_length > 2; start++)
	{
		int32		head = 0;
		int32		tail = 0;
		int32		closing = -1;

		if (s->last_source[start] < start)
			continue;
		s->dist[start] = 0;
		s->queue[tail++] = start;
		while (head < tail && closing < 0)
		{
			int32		u = s->queue[head++];

			CHECK_FOR_INTERRUPTS();
			/* a cycle through u would be no shorter than the best */
			if (s->dist[u] + 1 >= s->cycle_length)
				break;
			for (int32 e = s->offsets[u]; e < s->offsets[u + 1]; e++)
			{
				int32		w = s->targets[e];

				if (w == start)
				{
					closing = u;
					break;
				}
				if (w > start && s->dist[w] < 0)
				{
					s->dist[w] = s->dist[u] + 1;
					s->parent[w] = u;
					s->queue[tail++] = w;
				}
			}
		}

		if (closing >= 0)
		{
			s->cycle_length = s->dist[closing] + 1;
			for (int32 x = closing; x != start; x = s->parent[x])
				s->cycle[s->dist[x]] = x;
			s->cycle[0] = start;
		}

		for (int32 i = 0; i < tail; i++)
			s->dist[s->queue[i]] = -1;
	}
}

/* A path as a text Datum, or NULL. */
static Datum
path_datum(ImportGraph *g, int32 v, bool *isnull)
{
	*isnull = g->path[v] == NULL;
	return *isnull ? (Datum) 0 : CStringGetTextDatum(g->path[v]);
}

/*
 * One row per component, largest first.  The values of a row are made in
 * a context reset after each row, since the tuplestore keeps its own copy.
 */
static void
emit_components(ImportGraph *g, ReturnSetInfo *rsinfo)
{
	int32	   *order = graph_alloc(g, g->ncomponents, sizeof(int32));
	int32		largest = 0;
	CycleSearch s;
	MemoryContext row_context;
	MemoryContext old;

	for (int32 c = 0; c < g->ncomponents; c++)
	{
		order[c] = c;
		largest = Max(largest, g->member_offsets[c + 1] - g->member_offsets[c]);
	}
	qsort_arg(order, g->ncomponents, sizeof(int32), compare_components, g);

	s.offsets = graph_alloc(g, add_size(largest, 1), sizeof(int32));
	s.targets = graph_alloc(g, Max(g->nedges, 1), sizeof(int32));
	s.last_source = graph_alloc(g, largest, sizeof(int32));
	s.dist = graph_alloc(g, largest, sizeof(int32));
	s.parent = graph_alloc(g, largest, sizeof(int32));
	s.queue = graph_alloc(g, largest, sizeof(int32));
	s.cycle = graph_alloc(g, largest, sizeof(int32));

	row_context = AllocSetContextCreate(g->cxt, "astpg import cycle row",
										ALLOCSET_DEFAULT_SIZES);
	for (int32 k = 0; k < g->ncomponents; k++)
	{
		int32		c = order[k];
		int32		first = g->member_offsets[c];
		int32		size = g->member_offsets[c + 1] - first;
		Datum	   *ids;
		Datum	   *paths;
		bool	   *path_nulls;
		Datum	   *cycle;
		bool	   *cycle_nulls;
		Datum		values[5];
		bool		nulls[5] = {0};

		component_csr(g, c, &s);
		shortest_cycle(size, &s);
		/* a strongly connected component of 2 or more always has a cycle */
		if (s.cycle_length > size)
			elog(ERROR, "no cycle found in an import cycle of %d files", size);

		old = MemoryContextSwitchTo(row_context);
		ids = palloc(mul_size(size, sizeof(Datum)));
		paths = palloc(mul_size(size, sizeof(Datum)));
		path_nulls = palloc(mul_size(size, sizeof(bool)));
		for (int32 i = 0; i < size; i++)
		{
			int32		v = g->members[first + i];

			ids[i] = Int64GetDatum(g->file_id[v]);
			paths[i] = path_datum(g, v, &path_nulls[i]);
		}
		cycle = palloc(mul_size(s.cycle_length, sizeof(Datum)));
		cycle_nulls = palloc(mul_size(s.cycle_length, sizeof(bool)));
		for (int32 i = 0; i < s.cycle_length; i++)
		{
			cycle[i] = paths[s.cycle[i]];
			cycle_nulls[i] = path_nulls[s.cycle[i]];
		}

		values[0] = Int32GetDatum(k + 1);
		values[1] = Int32GetDatum(size);
		values[2] = AstpgBuildArray(ids, NULL, size, INT8OID);
		values[3] = AstpgBuildArray(paths, path_nulls, size, TEXTOID);
		values[4] = AstpgBuildArray(cycle, cycle_nulls, s.cycle_length,
									TEXTOID);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		MemoryContextSwitchTo(old);
		MemoryContextReset(row_context);
	}
	MemoryContextDelete(row_context);
	pfree(order);
}

/*
 * AstpgImportCycles
 *		The rows of astpg.import_cycles(repository) for the repository of
 *		repo_id, into fcinfo's tuplestore.
 *
 * The import cycles of a repository, as of the last refresh of
 * astpg.module_edges: one row per strongly connected component of two
 * files or more, numbered from 1 by size (largest first), then by smallest
 * path.  file_ids and paths are in order of path; cycle is one of the
 * shortest cycles of the component, a -> b -> ... (back to a), from the
 * file whose path sorts first.
 */
void
AstpgImportCycles(FunctionCallInfo fcinfo, int64 repo_id)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	AstpgExtension ext;
	const char *schema;
	MemoryContext caller_context = CurrentMemoryContext;
	ImportGraph *g;
	HASHCTL		ctl;

	InitMaterializedSRF(fcinfo, 0);
	AstpgCheckExtension(&ext);
	schema = quote_identifier(ext.schema_name);

	g = MemoryContextAllocZero(caller_context, sizeof(ImportGraph));
	g->cxt = AllocSetContextCreate(caller_context, "astpg import cycles",
								   ALLOCSET_DEFAULT_SIZES);
	ctl.keysize = sizeof(int64);
	ctl.entrysize = sizeof(FileNode);
	ctl.hcxt = g->cxt;
	g->nodes = hash_create("astpg import cycles files", 1024, &ctl,
						   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	g->node_capacity = 1024;
	g->file_id = graph_alloc(g, g->node_capacity, sizeof(int64));
	g->edge_capacity = 1024;
	g->edge_source = graph_alloc(g, g->edge_capacity, sizeof(int32));
	g->edge_target = graph_alloc(g, g->edge_capacity, sizeof(int32));

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	read_edges(g, schema, repo_id);
	MemoryContextSwitchTo(g->cxt);
	build_csr(g);
	find_components(g);
	if (g->ncomponents > 0)
		read_paths(g, schema, repo_id);
	if (SPI_finish() != SPI_OK_FINISH)
		elog(ERROR, "SPI_finish failed");

	if (g->ncomponents > 0)
	{
		MemoryContextSwitchTo(g->cxt);
		group_members(g);
		emit_components(g, rsinfo);
	}

	MemoryContextSwitchTo(caller_context);
	MemoryContextDelete(g->cxt);
	pfree(g);
}
