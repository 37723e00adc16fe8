-- 0003_request_segments: the request log is kept in segments, one row per
-- batch of up to 512 requests, instead of one row per request.
--
-- A row per request cost the gateway about 5 µs of CPU each (the SQLite
-- statement, 19 bound values, the table and three indexes), a fifth of
-- what Sluice spent on a request under load. A segment is one INSERT of a
-- compact binary encoding (sqlite/segment.go); queries decode the segments
-- their time range or request id selects.
--
-- first_at and last_at bound the rows' times (Unix ns). Request ids of the
-- form PREFIX_COUNTER (the gateway's own: req_<process>_<base-36 counter>)
-- are found through id_prefix, id_lo and id_hi, the counter range of the
-- segment's ids with its most common prefix; any other id of the segment
-- is listed in request_ids. The Go step of this migration drops the old
-- requests table when it is empty; a table with rows stays, is read beside
-- the segments and is dropped once the retention has pruned it empty
-- (sqlite/legacy.go).
CREATE TABLE request_segments (
    seq       INTEGER PRIMARY KEY,
    first_at  INTEGER NOT NULL,
    last_at   INTEGER NOT NULL,
    rows      INTEGER NOT NULL,
    id_prefix TEXT,
    id_lo     INTEGER,
    id_hi     INTEGER,
    data      BLOB NOT NULL
) STRICT;
CREATE INDEX request_segments_last_at ON request_segments (last_at);
CREATE INDEX request_segments_first_at ON request_segments (first_at);
CREATE INDEX request_segments_ids ON request_segments (id_prefix, id_hi);

CREATE TABLE request_ids (
    request_id TEXT NOT NULL,
    seq        INTEGER NOT NULL,
    PRIMARY KEY (request_id, seq)
) STRICT, WITHOUT ROWID;
CREATE INDEX request_ids_seq ON request_ids (seq);
