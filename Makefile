# astpg: source code ASTs shredded into relational tables.
#
# PGXS build.  The one version source is default_version in astpg.control.
# Warnings become errors in the test command (test/run): PG_CFLAGS=-Werror.

EXTENSION = astpg
MODULE_big = astpg
OBJS = \
	src/ast_index.o \
	src/astpg.o \
	src/batch.o \
	src/batch_writer.o \
	src/class_links.o \
	src/counts.o \
	src/deadlocks.o \
	src/document_reader.o \
	src/extension.o \
	src/history.o \
	src/import_cycles.o \
	src/json_text.o \
	src/queries.o \
	src/rejects.o \
	src/symbol_names.o \
	src/util.o

# The library serves one version of the extension, default_version of
# astpg.control, and refuses to write into any other (src/queries.c).
EXTVERSION := $(shell sed -n "s/^default_version *= *'\(.*\)'/\1/p" astpg.control)
PG_CPPFLAGS = -DASTPG_VERSION='"$(EXTVERSION)"'

DATA = $(wildcard sql/astpg--*.sql)

# pg_regress suites, one topic each; upgrade last, as it recreates astpg.
REGRESS = ingest ingest_errors reader_limits fuzz_cases replace document dependencies \
	privileges batch inbox unchanged search_path schema_trust plans analytics history \
	sync cancel ast_index serializable idle_cost version read_only health questions upgrade
REGRESS_OPTS = --load-extension=pg_trgm --load-extension=astpg

# isolation tests: concurrent sessions, step by step (test/isolation)
ISOLATION = delete_target module_race deadlock_retry user_locks
ISOLATION_OPTS = --inputdir=test/isolation --load-extension=pg_trgm \
	--load-extension=astpg

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# PGXS does not track headers: every object depends on the shared one,
# and on the version it is built for.
$(OBJS): src/astpg.h src/columns.h astpg.control

# The bulk loader, a client program with a Makefile of its own: built,
# installed and cleaned with the extension.
LOADER = tools/astpg-load
all: loader
.PHONY: loader install-loader clean-loader
loader:
	$(MAKE) -C $(LOADER) PG_CONFIG=$(PG_CONFIG)
install: install-loader
install-loader: loader
	$(MAKE) -C $(LOADER) PG_CONFIG=$(PG_CONFIG) install
clean: clean-loader
clean-loader:
	$(MAKE) -C $(LOADER) PG_CONFIG=$(PG_CONFIG) clean

# astpg-index beside astpg-load, and the extractors it runs where it looks
# for them ($(pg_config --sharedir)/astpg), with extract-js's and
# extract-tree-sitter's parsers when they are installed here, so that no
# first run needs npm.
install: install-index
.PHONY: install-index
install-index:
	$(MKDIR_P) '$(DESTDIR)$(bindir)' '$(DESTDIR)$(datadir)/astpg/extract-js'
	$(INSTALL_SCRIPT) tools/astpg-index '$(DESTDIR)$(bindir)/astpg-index'
	$(INSTALL_SCRIPT) tools/extract-python '$(DESTDIR)$(datadir)/astpg/'
	$(INSTALL_SCRIPT) tools/extract-js/extract-js tools/extract-js/extract.js \
		'$(DESTDIR)$(datadir)/astpg/extract-js/'
	$(INSTALL_DATA) tools/extract-js/package.json tools/extract-js/package-lock.json \
		'$(DESTDIR)$(datadir)/astpg/extract-js/'
	if [ -d tools/extract-js/node_modules ]; then \
		rm -rf '$(DESTDIR)$(datadir)/astpg/extract-js/node_modules' && \
		cp -R tools/extract-js/node_modules '$(DESTDIR)$(datadir)/astpg/extract-js/'; fi
	$(MKDIR_P) '$(DESTDIR)$(datadir)/astpg/extract-tree-sitter/lang'
	$(INSTALL_SCRIPT) tools/extract-tree-sitter/extract-tree-sitter tools/extract-tree-sitter/extract.js \
		'$(DESTDIR)$(datadir)/astpg/extract-tree-sitter/'
	$(INSTALL_DATA) tools/extract-tree-sitter/engine.js tools/extract-tree-sitter/package.json \
		tools/extract-tree-sitter/package-lock.json tools/extract-tree-sitter/.npmrc \
		'$(DESTDIR)$(datadir)/astpg/extract-tree-sitter/'
	$(INSTALL_DATA) tools/extract-tree-sitter/lang/*.js '$(DESTDIR)$(datadir)/astpg/extract-tree-sitter/lang/'
	if [ -e tools/extract-tree-sitter/node_modules/.astpg-installed ]; then \
		rm -rf '$(DESTDIR)$(datadir)/astpg/extract-tree-sitter/node_modules' && \
		cp -R tools/extract-tree-sitter/node_modules '$(DESTDIR)$(datadir)/astpg/extract-tree-sitter/'; fi

# The README's two commands.
.PHONY: test check-fast demo bench bench-queries bench-subxacts bench-extract check-asan
test:
	test/run
# the quick loop: build, install, pg_regress and isolation, pgTAP
check-fast:
	test/check-fast
# the suites against astpg built with ASan and UBSan, in a throwaway copy
check-asan:
	test/check-asan
demo:
	tools/demo
bench:
	test/bench/run
bench-queries:
	test/bench/queries
bench-subxacts:
	test/bench/subxacts
# extract-python against ast.parse and BASE's, astpg-index end to end: in a
# throwaway cluster, or the server PG* names (docs/extraction.md)
bench-extract:
	tools/install-deps
	$(MAKE) install
	if [ -n "$${PGHOST:-}$${PGPORT:-}$${PGDATABASE:-}" ]; then test/bench/extract; \
	else pg_virtualenv -v 15 test/bench/extract; fi
