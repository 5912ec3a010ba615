/* astpg/sql/astpg--1.4--1.5.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION astpg UPDATE TO '1.5'" to load this file. \quit

--
-- 1.5: writers that never hand a client a deadlock of astpg's making.
--
-- A fresh CREATE EXTENSION astpg runs 1.0 to 1.4 and this script in turn:
-- it must work on empty tables as well as on full ones.
--
