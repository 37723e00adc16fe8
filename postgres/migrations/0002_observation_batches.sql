-- Fleet-wide analysis: every replica writes, each second, what it observed
-- of each (model, version, category) since its previous flush; the others
-- read the rows and analyse the union. A flush is one statement, so its
-- rows (one seq) commit together, and a replica's flushes commit in seq
-- order. The rows are kept for a bounded time (see fleet.Options.Retention).
CREATE TABLE observation_batches (
	replica      text        NOT NULL,
	seq          bigint      NOT NULL,
	model        text        NOT NULL,
	version      text        NOT NULL,
	category     text        NOT NULL,
	observations integer     NOT NULL,
	scores       integer     NOT NULL,
	data         bytea       NOT NULL,
	flushed_at   timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (replica, seq, model, version, category)
);
CREATE INDEX observation_batches_flushed_at ON observation_batches (flushed_at);
