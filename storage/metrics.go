package storage

import "github.com/prometheus/client_golang/prometheus"

// metrics are the Writer's Prometheus collectors.
type metrics struct {
	pointsWritten   prometheus.Counter
	batchesWritten  prometheus.Counter
	writeErrors     *prometheus.CounterVec
	rejectedBatches prometheus.Counter
	queueDropped    prometheus.Counter
	spoolDropped    prometheus.Counter
	spoolBytes      prometheus.Gauge
	spoolPoints     prometheus.Gauge
	spoolSegments   prometheus.Gauge
	queueLen        prometheus.GaugeFunc
	writeSeconds    prometheus.Histogram
}

// Write error kinds (label kind of rackpulse_storage_write_errors_total).
const (
	errKindTimeout     = "timeout"
	errKindUnreachable = "unreachable"
	errKindServer      = "server_error"
	errKindBusy        = "busy"
	errKindTooLarge    = "too_large"
	errKindAuth        = "auth"
	errKindNotFound    = "not_found"
	errKindRejected    = "rejected"
	errKindEncode      = "encode"
	errKindSpool       = "spool"
	errKindOther       = "other"
)

func newMetrics(queueLen func() float64) *metrics {
	m := &metrics{
		pointsWritten: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "rackpulse_storage_points_written_total", Help: "Points InfluxDB accepted.",
		}),
		batchesWritten: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "rackpulse_storage_batches_written_total", Help: "Write requests InfluxDB accepted.",
		}),
		writeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rackpulse_storage_write_errors_total",
			Help: "Failed writes by kind (timeout, unreachable, server_error, busy, too_large, auth, not_found, rejected, encode, spool, other).",
		}, []string{"kind"}),
		rejectedBatches: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "rackpulse_storage_rejected_batches_total", Help: "Batches InfluxDB refused as bad data (4xx) and that were dropped.",
		}),
		queueDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "rackpulse_storage_queue_dropped_points_total", Help: "Points dropped because the in-memory queue was full.",
		}),
		spoolDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "rackpulse_storage_spool_dropped_points_total", Help: "Spooled points dropped (oldest first) to keep the spool under its bound.",
		}),
		spoolBytes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "rackpulse_storage_spool_bytes", Help: "Bytes of line protocol waiting in the spool.",
		}),
		spoolPoints: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "rackpulse_storage_spool_points", Help: "Points waiting in the spool.",
		}),
		spoolSegments: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "rackpulse_storage_spool_segments", Help: "Segment files in the spool.",
		}),
		queueLen: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "rackpulse_storage_queue_points", Help: "Points waiting in the in-memory queue.",
		}, queueLen),
		writeSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "rackpulse_storage_write_duration_seconds", Help: "Duration of write requests to InfluxDB.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 12),
		}),
	}
	return m
}

func (m *metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{
		m.pointsWritten, m.batchesWritten, m.writeErrors, m.rejectedBatches, m.queueDropped,
		m.spoolDropped, m.spoolBytes, m.spoolPoints, m.spoolSegments, m.queueLen, m.writeSeconds,
	}
}
