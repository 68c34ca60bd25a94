import type { Counter, Gauge, Histogram, Metrics } from '../metrics.js';

/** The TFTP server's Prometheus series (labels are closed sets, so cardinality stays bounded). */
export class TftpMetrics {
  readonly requests: Counter<'op'>;
  readonly refused: Counter<'reason'>;
  readonly transfers: Counter<'result'>;
  readonly sentBytes: Counter;
  readonly retransmittedBlocks: Counter;
  readonly malformed: Counter<'reason'>;
  readonly duplicates: Counter;
  readonly active: Gauge;
  readonly cacheBytes: Gauge;
  readonly cacheLookups: Counter<'result'>;
  readonly duration: Histogram<'result'>;
  readonly sendErrors: Counter<'code'>;
  readonly workers: Gauge;
  readonly started: Counter<'runner'>;
  readonly workerRestarts: Counter;
  readonly errorReplies: Counter<'result'>;

  constructor(m: Metrics) {
    this.requests = m.counter('gatehouse_tftp_requests_total', 'TFTP requests received, by opcode', ['op']);
    this.refused = m.counter(
      'gatehouse_tftp_requests_refused_total',
      'TFTP requests answered with an error or dropped before a transfer started, by reason',
      ['reason'],
    );
    this.transfers = m.counter('gatehouse_tftp_transfers_total', 'TFTP transfers finished, by result', [
      'result',
    ]);
    this.sentBytes = m.counter(
      'gatehouse_tftp_sent_bytes_total',
      'TFTP DATA payload bytes sent, retransmissions included',
    );
    this.retransmittedBlocks = m.counter(
      'gatehouse_tftp_retransmitted_blocks_total',
      'TFTP DATA blocks sent again after a timeout',
    );
    this.malformed = m.counter(
      'gatehouse_tftp_malformed_packets_total',
      'TFTP datagrams dropped because they could not be decoded or made no sense here, by reason',
      ['reason'],
    );
    this.duplicates = m.counter(
      'gatehouse_tftp_duplicate_requests_total',
      'Retransmitted read requests for a transfer already under way (ignored)',
    );
    this.active = m.gauge(
      'gatehouse_tftp_active_transfers',
      'TFTP transfers in progress (including ones being set up)',
    );
    this.cacheBytes = m.gauge(
      'gatehouse_tftp_cache_bytes',
      'Bytes of boot files held in the TFTP file cache',
    );
    this.cacheLookups = m.counter(
      'gatehouse_tftp_cache_lookups_total',
      'TFTP file lookups: hit (served from memory), miss (read into memory), bypass (too big to cache)',
      ['result'],
    );
    this.duration = m.histogram(
      'gatehouse_tftp_transfer_duration_seconds',
      'Duration of finished TFTP transfers, by result',
      ['result'],
      [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 300],
    );
    this.sendErrors = m.counter(
      'gatehouse_tftp_send_errors_total',
      'TFTP datagrams the kernel refused to send, by errno name (a closed client port ends the transfer instead)',
      ['code'],
    );
    this.started = m.counter(
      'gatehouse_tftp_transfers_started_total',
      'TFTP transfers handed to a runner: worker (a transfer thread) or main (tftp.workers 1, files bigger than the cache)',
      ['runner'],
    );
    this.workers = m.gauge('gatehouse_tftp_workers', 'TFTP transfer worker threads running (tftp.workers)');
    this.workerRestarts = m.counter(
      'gatehouse_tftp_worker_restarts_total',
      'TFTP transfer worker threads started again after one died',
    );
    this.errorReplies = m.counter(
      'gatehouse_tftp_error_replies_total',
      'ERROR packets for refused or malformed requests: sent, or rate_limited (tftp.errorReplies) and not sent',
      ['result'],
    );
  }
}
