/* astpg/sql/astpg--1.5--1.6.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION astpg UPDATE TO '1.6'" to load this file. \quit

--
-- 1.6 begins: fresh installs from one script, astpg--1.6.sql; the library
-- serves one version.
--
-- A fresh CREATE EXTENSION astpg runs astpg--1.6.sql alone, not this
-- chain.  Whatever 1.6 changes is made twice, here for databases updated
-- from 1.5 and in astpg--1.6.sql for fresh installs, and sql/upgrade.sql
-- checks that both give the same definitions.
--
