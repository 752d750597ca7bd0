-- Delivery latency of successful attempts (status sent), in seconds: Postfix's delay and its four
-- parts (a: before the active queue, b: queue manager, c: connection setup, d: transmission).
-- Continuous quantiles (linear interpolation, like Spark's exact percentile()).
SELECT {{by_select}}
       CAST(COUNT(*) AS BIGINT) AS n,
       quantile_cont(delay, 0.5) AS delay_p50,
       quantile_cont(delay, 0.9) AS delay_p90,
       quantile_cont(delay, 0.99) AS delay_p99,
       quantile_cont(delay_a, 0.5) AS delay_a_p50,
       quantile_cont(delay_a, 0.9) AS delay_a_p90,
       quantile_cont(delay_a, 0.99) AS delay_a_p99,
       quantile_cont(delay_b, 0.5) AS delay_b_p50,
       quantile_cont(delay_b, 0.9) AS delay_b_p90,
       quantile_cont(delay_b, 0.99) AS delay_b_p99,
       quantile_cont(delay_c, 0.5) AS delay_c_p50,
       quantile_cont(delay_c, 0.9) AS delay_c_p90,
       quantile_cont(delay_c, 0.99) AS delay_c_p99,
       quantile_cont(delay_d, 0.5) AS delay_d_p50,
       quantile_cont(delay_d, 0.9) AS delay_d_p90,
       quantile_cont(delay_d, 0.99) AS delay_d_p99
FROM ({{attempts}}) a
WHERE a.status IN ('sent', 'delivered') AND {{where}}
{{group_by}}
