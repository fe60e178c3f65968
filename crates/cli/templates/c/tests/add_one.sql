-- `plugrt test` runs this query with the plugin's functions and compares the printed table
-- with add_one.out (`plugrt test --bless` rewrites it).
SELECT x, add_one(x) AS y FROM (VALUES (1), (41), (NULL)) AS t(x) ORDER BY x
