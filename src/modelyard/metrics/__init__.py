"""CloudWatch metrics and alarms as modelyard keeps them.

    hot paths (invoke, training logs, PutMetricData) -> MetricBuffer (in memory, per minute)
      -> MetricsHub flushes it every few seconds, off the event loop -> store.metrics (one-minute rows)
    GetMetricStatistics / GetMetricData -> store rows -> ``statistics`` per period
    AlarmEvaluator (background) -> ``alarm_rules`` -> store.alarms

A minute's distribution is a log-bucketed histogram (``histogram``): percentiles within 1 % of the
true sample value.
"""
