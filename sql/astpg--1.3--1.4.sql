/* astpg/sql/astpg--1.3--1.4.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION astpg UPDATE TO '1.4'" to load this file. \quit

--
-- 1.4: loads at the COPY limit and proofs under faults.
--
-- A fresh CREATE EXTENSION astpg runs 1.0 to 1.3 and this script in turn:
-- it must work on empty tables as well as on full ones.
--
