-- Run once after the regression database is created: the application's outbox (the same file
-- the stack applies; pg_regress reads this file on stdin, so the path is from the repo root, where
-- scripts/test.sh runs it) and the extension.
\i sql/outbox.sql
CREATE EXTENSION outbox_demo;
