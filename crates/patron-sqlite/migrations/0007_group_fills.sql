-- Rule-driven groups whose members have yet to catch up with their rule: the
-- rule was saved, customers were imported, a date-dependent rule's day came.
-- A group is filled in many small write transactions so that it never holds
-- up other writes; the row is deleted by the last of them, so a fill cut short
-- (a crash, a timeout) is found and run again by the scheduler. `token` grows
-- with every new reason to fill: a fill removes the row only if nothing new
-- came up while it ran.
CREATE TABLE group_fills (
    group_id TEXT PRIMARY KEY,
    token    INTEGER NOT NULL
) WITHOUT ROWID;
