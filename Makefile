# astpg: source code ASTs shredded into relational tables.
#
# PGXS build.  The one version source is default_version in astpg.control.
# Warnings become errors in the test command (test/run): PG_CFLAGS=-Werror.

EXTENSION = astpg
MODULE_big = astpg
OBJS = \
	src/astpg.o \
	src/document_reader.o \
	src/document_writer.o \
	src/extension.o \
	src/history.o \
	src/identity.o \
	src/import_cycles.o \
	src/ingest.o \
	src/queries.o \
	src/queries_1_1.o \
	src/routed_writer.o

DATA = $(wildcard sql/astpg--*.sql)

# pg_regress suites, one topic each; upgrade last, as it recreates astpg.
REGRESS = ingest ingest_errors replace document dependencies privileges \
	batch inbox unchanged search_path schema_trust plans analytics history upgrade
REGRESS_OPTS = --load-extension=pg_trgm --load-extension=astpg

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# PGXS does not track headers: every object depends on the shared one.
$(OBJS): src/astpg.h src/columns.h

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

# The README's two commands.
.PHONY: test demo bench bench-queries
test:
	test/run
demo:
	tools/demo
bench:
	test/bench/run
bench-queries:
	test/bench/queries
