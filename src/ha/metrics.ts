import type { Metrics } from '../metrics.js';

export function haMetrics(metrics: Metrics) {
  return {
    role: metrics.gauge('gatehouse_ha_role', '1 while this gateway is the HA primary, 0 while standby'),
    term: metrics.gauge('gatehouse_ha_term', 'Highest HA term this gateway has written in or seen'),
    position: metrics.gauge(
      'gatehouse_ha_position',
      'Replicated transactions written (primary) or applied (standby)',
    ),
    lagTransactions: metrics.gauge(
      'gatehouse_ha_replication_lag_transactions',
      'Transactions the standby has not applied yet (standby: seen from the primary; primary: not acknowledged)',
    ),
    lagSeconds: metrics.gauge(
      'gatehouse_ha_replication_lag_seconds',
      "Standby: age of the newest applied transaction when it was applied (primary's commit clock), while behind",
    ),
    applyLag: metrics.histogram(
      'gatehouse_ha_apply_lag_seconds',
      "Standby: primary commit to standby commit of each replicated transaction (primary's clock vs standby's)",
      [],
      [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    ),
    syncDegraded: metrics.gauge(
      'gatehouse_ha_sync_degraded',
      '1 while synchronous replication has degraded to asynchronous (standby absent or too slow)',
    ),
    syncWait: metrics.histogram(
      'gatehouse_ha_sync_wait_seconds',
      'Time a write answer waited for the standby acknowledgement (sync mode)',
      [],
      [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1],
    ),
  };
}

export type HaMetrics = ReturnType<typeof haMetrics>;
