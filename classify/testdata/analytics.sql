-- Realistic analytical SELECTs: every one must be classified read.
-- One statement per entry, each ending with ";". The schema is an imaginary shop:
-- customers, orders, order_items, products, payments, events (jsonb), sessions, employees.

-- 1 revenue per day
SELECT date_trunc('day', o.created_at) AS day, sum(o.amount) AS revenue, count(*) AS orders
FROM orders o
WHERE o.created_at >= now() - interval '30 days'
GROUP BY 1
ORDER BY 1;

-- 2 top customers
SELECT c.id, c.name, sum(o.amount) AS total
FROM customers c
JOIN orders o ON o.customer_id = c.id
GROUP BY c.id, c.name
ORDER BY total DESC
LIMIT 20;

-- 3 running total
SELECT o.id, o.created_at, o.amount,
       sum(o.amount) OVER (ORDER BY o.created_at ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS running_total
FROM orders o
ORDER BY o.created_at;

-- 4 rank within category
SELECT p.category, p.name, p.price,
       rank() OVER (PARTITION BY p.category ORDER BY p.price DESC) AS price_rank
FROM products p;

-- 5 top 3 per category
SELECT *
FROM (
  SELECT p.category, p.name, sum(oi.quantity) AS sold,
         row_number() OVER (PARTITION BY p.category ORDER BY sum(oi.quantity) DESC) AS rn
  FROM products p JOIN order_items oi ON oi.product_id = p.id
  GROUP BY p.category, p.name
) ranked
WHERE rn <= 3;

-- 6 month over month growth
WITH monthly AS (
  SELECT date_trunc('month', created_at) AS month, sum(amount) AS revenue
  FROM orders GROUP BY 1
)
SELECT month, revenue,
       lag(revenue) OVER (ORDER BY month) AS previous,
       round(100.0 * (revenue - lag(revenue) OVER (ORDER BY month)) / nullif(lag(revenue) OVER (ORDER BY month), 0), 2) AS growth_pct
FROM monthly
ORDER BY month;

-- 7 cohort retention
WITH first_orders AS (
  SELECT customer_id, date_trunc('month', min(created_at)) AS cohort
  FROM orders GROUP BY customer_id
), activity AS (
  SELECT o.customer_id, f.cohort, date_trunc('month', o.created_at) AS month
  FROM orders o JOIN first_orders f USING (customer_id)
)
SELECT cohort,
       (extract(year FROM age(month, cohort)) * 12 + extract(month FROM age(month, cohort)))::int AS month_number,
       count(DISTINCT customer_id) AS customers
FROM activity
GROUP BY 1, 2
ORDER BY 1, 2;

-- 8 latest order per customer with LATERAL
SELECT c.id, c.name, last_order.created_at, last_order.amount
FROM customers c
LEFT JOIN LATERAL (
  SELECT o.created_at, o.amount FROM orders o
  WHERE o.customer_id = c.id
  ORDER BY o.created_at DESC
  LIMIT 1
) last_order ON true;

-- 9 DISTINCT ON
SELECT DISTINCT ON (customer_id) customer_id, id AS order_id, created_at
FROM orders
ORDER BY customer_id, created_at DESC;

-- 10 FILTER aggregates
SELECT date_trunc('week', created_at) AS week,
       count(*) FILTER (WHERE status = 'paid') AS paid,
       count(*) FILTER (WHERE status = 'refunded') AS refunded,
       count(*) FILTER (WHERE status = 'cancelled') AS cancelled
FROM orders
GROUP BY 1
ORDER BY 1;

-- 11 GROUPING SETS
SELECT country, city, sum(amount) AS revenue, grouping(country, city) AS level
FROM orders o JOIN customers c ON c.id = o.customer_id
GROUP BY GROUPING SETS ((country, city), (country), ());

-- 12 ROLLUP
SELECT extract(year FROM created_at) AS year, extract(quarter FROM created_at) AS quarter, sum(amount)
FROM orders
GROUP BY ROLLUP (1, 2)
ORDER BY 1, 2;

-- 13 CUBE
SELECT channel, device, count(*) AS sessions
FROM sessions
GROUP BY CUBE (channel, device);

-- 14 generate_series to fill gaps
SELECT d::date AS day, coalesce(sum(o.amount), 0) AS revenue
FROM generate_series(date '2024-01-01', date '2024-01-31', interval '1 day') AS d
LEFT JOIN orders o ON o.created_at::date = d::date
GROUP BY d
ORDER BY d;

-- 15 JSON operators
SELECT e.payload->>'user_id' AS user_id, e.payload->'device'->>'os' AS os, count(*)
FROM events e
WHERE e.payload ? 'user_id' AND e.payload @> '{"type": "click"}'
GROUP BY 1, 2;

-- 16 jsonb_array_elements
SELECT o.id, item->>'sku' AS sku, (item->>'qty')::int AS qty
FROM orders o, jsonb_array_elements(o.items) AS item
WHERE (item->>'qty')::int > 1;

-- 17 jsonb_each_text
SELECT e.id, kv.key, kv.value
FROM events e, jsonb_each_text(e.payload) AS kv
WHERE e.created_at > now() - interval '1 hour';

-- 18 jsonb_path_query
SELECT id, jsonb_path_query(payload, '$.items[*] ? (@.price > 100)') AS expensive
FROM events;

-- 19 json aggregation
SELECT c.id, json_agg(json_build_object('id', o.id, 'amount', o.amount) ORDER BY o.created_at) AS orders
FROM customers c JOIN orders o ON o.customer_id = c.id
GROUP BY c.id;

-- 20 jsonb_object_agg
SELECT customer_id, jsonb_object_agg(status, n) AS by_status
FROM (SELECT customer_id, status, count(*) AS n FROM orders GROUP BY 1, 2) s
GROUP BY customer_id;

-- 21 regexp
SELECT email, substring(email FROM '@(.*)$') AS domain
FROM customers
WHERE email ~* '^[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,}$';

-- 22 regexp_replace and split_part
SELECT regexp_replace(phone, '[^0-9]', '', 'g') AS digits, split_part(name, ' ', 1) AS first_name
FROM customers;

-- 23 regexp_matches
SELECT id, (regexp_matches(message, 'order #([0-9]+)', 'g'))[1] AS order_ref
FROM tickets;

-- 24 arrays
SELECT customer_id, array_agg(DISTINCT product_id ORDER BY product_id) AS products
FROM orders o JOIN order_items oi ON oi.order_id = o.id
GROUP BY customer_id
HAVING cardinality(array_agg(DISTINCT product_id)) > 3;

-- 25 unnest with ordinality
SELECT p.id, t.tag, t.pos
FROM products p, unnest(p.tags) WITH ORDINALITY AS t(tag, pos);

-- 26 array containment
SELECT id, name FROM products WHERE tags @> ARRAY['organic'] AND NOT tags && ARRAY['discontinued'];

-- 27 percentile
SELECT category,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY price) AS median_price,
       percentile_disc(0.9) WITHIN GROUP (ORDER BY price) AS p90
FROM products
GROUP BY category;

-- 28 mode
SELECT mode() WITHIN GROUP (ORDER BY payment_method) AS most_common_method FROM payments;

-- 29 ntile buckets
SELECT customer_id, total, ntile(4) OVER (ORDER BY total) AS quartile
FROM (SELECT customer_id, sum(amount) AS total FROM orders GROUP BY customer_id) t;

-- 30 moving average
SELECT day, revenue,
       avg(revenue) OVER (ORDER BY day ROWS BETWEEN 6 PRECEDING AND CURRENT ROW) AS ma7
FROM daily_revenue;

-- 31 range window by time
SELECT created_at, amount,
       sum(amount) OVER (ORDER BY created_at RANGE BETWEEN interval '1 hour' PRECEDING AND CURRENT ROW) AS last_hour
FROM payments;

-- 32 named window
SELECT id, amount, avg(amount) OVER w, max(amount) OVER w
FROM orders
WINDOW w AS (PARTITION BY customer_id ORDER BY created_at);

-- 33 first_value / last_value
SELECT DISTINCT customer_id,
       first_value(product_id) OVER w AS first_product,
       last_value(product_id) OVER (w ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS last_product
FROM order_items oi JOIN orders o ON o.id = oi.order_id
WINDOW w AS (PARTITION BY customer_id ORDER BY o.created_at);

-- 34 lead for session gaps
SELECT user_id, started_at,
       lead(started_at) OVER (PARTITION BY user_id ORDER BY started_at) - started_at AS gap
FROM sessions;

-- 35 sessionization
WITH marked AS (
  SELECT user_id, ts,
         CASE WHEN ts - lag(ts) OVER (PARTITION BY user_id ORDER BY ts) > interval '30 minutes' THEN 1 ELSE 0 END AS new_session
  FROM page_views
), numbered AS (
  SELECT user_id, ts, sum(new_session) OVER (PARTITION BY user_id ORDER BY ts) AS session_id FROM marked
)
SELECT user_id, session_id, min(ts) AS start, max(ts) AS stop, count(*) AS views
FROM numbered
GROUP BY user_id, session_id;

-- 36 funnel
SELECT count(DISTINCT user_id) FILTER (WHERE event = 'view') AS viewed,
       count(DISTINCT user_id) FILTER (WHERE event = 'cart') AS carted,
       count(DISTINCT user_id) FILTER (WHERE event = 'purchase') AS purchased
FROM events
WHERE created_at::date = current_date - 1;

-- 37 recursive org chart
WITH RECURSIVE chain AS (
  SELECT id, name, manager_id, 1 AS depth FROM employees WHERE manager_id IS NULL
  UNION ALL
  SELECT e.id, e.name, e.manager_id, c.depth + 1
  FROM employees e JOIN chain c ON e.manager_id = c.id
)
SELECT * FROM chain ORDER BY depth, name;

-- 38 recursive with SEARCH and CYCLE
WITH RECURSIVE graph(id, parent_id) AS (
  SELECT id, parent_id FROM categories WHERE parent_id IS NULL
  UNION ALL
  SELECT c.id, c.parent_id FROM categories c JOIN graph g ON c.parent_id = g.id
) SEARCH DEPTH FIRST BY id SET ordercol
  CYCLE id SET is_cycle USING path
SELECT * FROM graph ORDER BY ordercol;

-- 39 anti join
SELECT c.* FROM customers c
WHERE NOT EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.id);

-- 40 semi join with IN
SELECT * FROM products WHERE id IN (SELECT product_id FROM order_items WHERE quantity > 10);

-- 41 ANY with array parameter
SELECT * FROM orders WHERE status = ANY (ARRAY['paid', 'shipped']) AND customer_id = ANY ('{1,2,3}'::int[]);

-- 42 full outer join reconciliation
SELECT coalesce(p.order_id, o.id) AS order_id, o.amount AS ordered, p.amount AS paid
FROM orders o
FULL OUTER JOIN payments p ON p.order_id = o.id
WHERE o.amount IS DISTINCT FROM p.amount;

-- 43 self join
SELECT a.id AS a, b.id AS b
FROM customers a JOIN customers b ON a.email = b.email AND a.id < b.id;

-- 44 CROSS JOIN calendar
SELECT s.name AS store, d::date AS day
FROM stores s CROSS JOIN generate_series(current_date - 6, current_date, '1 day') d;

-- 45 UNION ALL of sources
SELECT 'order' AS kind, id, created_at FROM orders
UNION ALL
SELECT 'payment', id, created_at FROM payments
ORDER BY created_at DESC
LIMIT 100;

-- 46 INTERSECT
SELECT customer_id FROM orders WHERE created_at >= '2024-01-01'
INTERSECT
SELECT customer_id FROM orders WHERE created_at < '2024-01-01';

-- 47 EXCEPT
SELECT id FROM customers EXCEPT SELECT customer_id FROM orders;

-- 48 CASE buckets
SELECT CASE WHEN amount < 10 THEN 'small' WHEN amount < 100 THEN 'medium' ELSE 'large' END AS bucket,
       count(*), avg(amount)
FROM orders
GROUP BY 1;

-- 49 width_bucket histogram
SELECT width_bucket(amount, 0, 1000, 10) AS bucket, count(*) FROM orders GROUP BY 1 ORDER BY 1;

-- 50 date arithmetic
SELECT id, created_at, created_at AT TIME ZONE 'America/New_York' AS local_time,
       extract(dow FROM created_at) AS weekday, to_char(created_at, 'YYYY-MM') AS month
FROM orders;

-- 51 age and intervals
SELECT id, age(now(), signup_at) AS tenure, justify_interval(now() - last_login_at) AS idle
FROM customers;

-- 52 date_bin
SELECT date_bin('15 minutes', ts, timestamp '2024-01-01') AS slot, count(*)
FROM page_views
GROUP BY 1
ORDER BY 1;

-- 53 overlapping ranges
SELECT a.id, b.id FROM bookings a JOIN bookings b
ON a.room_id = b.room_id AND a.id < b.id AND tstzrange(a.starts, a.ends) && tstzrange(b.starts, b.ends);

-- 54 string aggregation
SELECT o.id, string_agg(p.name, ', ' ORDER BY p.name) AS products
FROM orders o JOIN order_items oi ON oi.order_id = o.id JOIN products p ON p.id = oi.product_id
GROUP BY o.id;

-- 55 text search
SELECT id, title, ts_rank(to_tsvector('english', body), q) AS rank
FROM articles, plainto_tsquery('english', 'postgres performance') q
WHERE to_tsvector('english', body) @@ q
ORDER BY rank DESC
LIMIT 10;

-- 56 trigram-like similarity with ILIKE
SELECT id, name FROM customers WHERE name ILIKE '%smith%' OR email LIKE '%@example.com';

-- 57 conditional counts with sum(case)
SELECT customer_id, sum(CASE WHEN status = 'paid' THEN 1 ELSE 0 END) AS paid_orders
FROM orders GROUP BY customer_id;

-- 58 correlated subquery
SELECT p.id, p.name, (SELECT count(*) FROM order_items oi WHERE oi.product_id = p.id) AS times_sold
FROM products p;

-- 59 scalar subquery in WHERE
SELECT * FROM orders WHERE amount > (SELECT avg(amount) * 3 FROM orders);

-- 60 VALUES as a lookup table
SELECT o.id, v.label
FROM orders o
JOIN (VALUES ('paid', 'Paid'), ('refunded', 'Refunded'), ('cancelled', 'Cancelled')) AS v(code, label)
ON v.code = o.status;

-- 61 TABLE
TABLE products;

-- 62 plain VALUES
VALUES (1, 'one'), (2, 'two'), (3, 'three');

-- 63 FETCH FIRST WITH TIES
SELECT * FROM products ORDER BY price DESC FETCH FIRST 5 ROWS WITH TIES;

-- 64 OFFSET pagination
SELECT id, name FROM customers ORDER BY id LIMIT 50 OFFSET 100;

-- 65 keyset pagination
SELECT id, created_at FROM orders WHERE (created_at, id) < ('2024-02-01', 5000) ORDER BY created_at DESC, id DESC LIMIT 50;

-- 66 currval and lastval only read
SELECT currval('orders_id_seq');

-- 67 stats from the catalog
SELECT relname, n_live_tup, n_dead_tup, last_autovacuum FROM pg_stat_user_tables ORDER BY n_dead_tup DESC;

-- 68 table sizes
SELECT c.relname, pg_size_pretty(pg_total_relation_size(c.oid)) AS size
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind = 'r'
ORDER BY pg_total_relation_size(c.oid) DESC;

-- 69 activity
SELECT pid, usename, state, now() - query_start AS running_for, left(query, 80)
FROM pg_stat_activity
WHERE state <> 'idle'
ORDER BY running_for DESC NULLS LAST;

-- 70 locks
SELECT l.locktype, l.mode, l.granted, a.query
FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
WHERE NOT l.granted;

-- 71 index usage
SELECT relname, indexrelname, idx_scan FROM pg_stat_user_indexes WHERE idx_scan = 0;

-- 72 XML
SELECT xmlelement(name customer, xmlattributes(id AS id), name) FROM customers LIMIT 5;

-- 73 XMLTABLE
SELECT x.* FROM feeds, XMLTABLE('/rss/channel/item' PASSING feeds.body COLUMNS title text PATH 'title', link text PATH 'link') AS x;

-- 74 JSON_TABLE
SELECT jt.* FROM events, JSON_TABLE(payload, '$.items[*]' COLUMNS (sku text PATH '$.sku', qty int PATH '$.qty')) AS jt;

-- 75 SQL/JSON functions
SELECT JSON_VALUE(payload, '$.user.id' RETURNING int) AS uid, JSON_QUERY(payload, '$.items') AS items,
       JSON_EXISTS(payload, '$.coupon') AS has_coupon
FROM events;

-- 76 IS JSON
SELECT count(*) FILTER (WHERE raw IS JSON OBJECT) AS objects, count(*) FILTER (WHERE raw IS NOT JSON) AS broken
FROM imports;

-- 77 json_object
SELECT json_object('id': id, 'name': name) FROM customers LIMIT 3;

-- 78 cumulative distribution
SELECT amount, cume_dist() OVER (ORDER BY amount), percent_rank() OVER (ORDER BY amount) FROM orders;

-- 79 GROUP BY DISTINCT
SELECT a, b, c, count(*) FROM t GROUP BY DISTINCT ROLLUP (a, b), ROLLUP (a, c);

-- 80 TABLESAMPLE
SELECT avg(amount) FROM orders TABLESAMPLE SYSTEM (10) REPEATABLE (42);

-- 81 numeric formatting
SELECT to_char(sum(amount), 'FM999,999,990.00') AS total, round(avg(amount)::numeric, 2) AS average FROM orders;

-- 82 conditional coalesce and nullif
SELECT id, coalesce(nullif(trim(nickname), ''), name) AS display_name FROM customers;

-- 83 greatest / least
SELECT id, greatest(updated_at, last_login_at) AS last_seen, least(price, sale_price) AS best_price FROM products;

-- 84 boolean aggregates
SELECT customer_id, bool_and(status = 'paid') AS always_paid, bool_or(amount > 1000) AS ever_big
FROM orders GROUP BY customer_id;

-- 85 statistical aggregates
SELECT corr(price, sold), regr_slope(sold, price), stddev_samp(price), var_pop(price) FROM product_stats;

-- 86 row comparison and tuple IN
SELECT * FROM order_items WHERE (order_id, product_id) IN (SELECT order_id, product_id FROM returns);

-- 87 EXISTS with correlated aggregate
SELECT c.id FROM customers c
WHERE EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.id GROUP BY o.customer_id HAVING sum(o.amount) > 10000);

-- 88 MATERIALIZED CTE hint
WITH big AS MATERIALIZED (SELECT * FROM orders WHERE amount > 500)
SELECT count(*) FROM big b1 JOIN big b2 ON b1.customer_id = b2.customer_id AND b1.id <> b2.id;

-- 89 NOT MATERIALIZED CTE
WITH recent AS NOT MATERIALIZED (SELECT * FROM orders WHERE created_at > now() - interval '7 days')
SELECT status, count(*) FROM recent GROUP BY status;

-- 90 quoted identifiers and schema qualification
SELECT "Order"."Id", "Order"."Total Amount" FROM "Sales"."Order" AS "Order" WHERE "Order"."Region" = 'EU';

-- 91 casts and typed literals
SELECT '2024-01-01'::date + 30, interval '1 day' * 3, '{1,2,3}'::int[] || 4, 'a'::text COLLATE "C" < 'b';

-- 92 BETWEEN SYMMETRIC and IS DISTINCT
SELECT * FROM orders WHERE amount BETWEEN SYMMETRIC 100 AND 10 AND coupon IS NOT DISTINCT FROM NULL;

-- 93 LIKE ANY
SELECT * FROM customers WHERE email LIKE ANY (ARRAY['%@gmail.com', '%@yahoo.com']);

-- 94 array slices and subscripts
SELECT tags[1] AS first_tag, tags[2:3] AS next_tags, array_length(tags, 1) FROM products;

-- 95 ROW constructor and composite field
SELECT (row(c.id, c.name)::customer_summary).name FROM customers c;

-- 96 lateral unnest of two arrays
SELECT * FROM unnest(ARRAY[1,2,3], ARRAY['a','b','c']) AS t(n, letter);

-- 97 ordered-set with hypothetical rank
SELECT rank(500) WITHIN GROUP (ORDER BY amount) FROM orders;

-- 98 crosstab-free pivot
SELECT customer_id,
       sum(amount) FILTER (WHERE extract(month FROM created_at) = 1) AS jan,
       sum(amount) FILTER (WHERE extract(month FROM created_at) = 2) AS feb,
       sum(amount) FILTER (WHERE extract(month FROM created_at) = 3) AS mar
FROM orders
GROUP BY customer_id;

-- 99 gaps and islands
SELECT min(day) AS streak_start, max(day) AS streak_end, count(*) AS days
FROM (SELECT day, day - (row_number() OVER (ORDER BY day))::int AS grp FROM active_days) s
GROUP BY grp
ORDER BY days DESC;

-- 100 deduplicated latest row per key with window
SELECT * FROM (
  SELECT *, row_number() OVER (PARTITION BY email ORDER BY updated_at DESC) AS rn FROM contacts
) d WHERE rn = 1;

-- 101 parameters as a client sends them
SELECT id, name, email FROM customers WHERE id = $1 AND created_at >= $2::timestamptz;

-- 102 EXPLAIN of a report
EXPLAIN (COSTS, VERBOSE, FORMAT JSON) SELECT customer_id, sum(amount) FROM orders GROUP BY 1;

-- 103 EXPLAIN ANALYZE of a read
EXPLAIN (ANALYZE, BUFFERS) SELECT * FROM orders WHERE customer_id = 42;

-- 104 geometry-free distance by math
SELECT id, sqrt(power(x - 10, 2) + power(y - 20, 2)) AS distance FROM points ORDER BY distance LIMIT 5;

-- 105 uuid and hashing
SELECT md5(email) AS email_hash, encode(sha256(convert_to(email, 'UTF8')), 'hex') FROM customers;

-- 106 random sample
SELECT * FROM customers ORDER BY random() LIMIT 10;

-- 107 window frame with EXCLUDE
SELECT id, avg(amount) OVER (ORDER BY id ROWS BETWEEN 2 PRECEDING AND 2 FOLLOWING EXCLUDE CURRENT ROW) FROM orders;

-- 108 multiple CTEs feeding one report
WITH paid AS (SELECT customer_id, sum(amount) AS paid FROM payments GROUP BY 1),
     ordered AS (SELECT customer_id, sum(amount) AS ordered FROM orders GROUP BY 1)
SELECT c.name, o.ordered, p.paid, o.ordered - coalesce(p.paid, 0) AS outstanding
FROM customers c
JOIN ordered o ON o.customer_id = c.id
LEFT JOIN paid p ON p.customer_id = c.id
WHERE o.ordered > coalesce(p.paid, 0)
ORDER BY outstanding DESC;

-- 109 information about the session
SELECT current_database(), current_schema(), current_user, session_user, inet_server_port(), pg_backend_pid();

-- 110 SHOW a setting
SHOW work_mem;
