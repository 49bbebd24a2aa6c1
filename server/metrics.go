package server

import (
	"sync/atomic"
	"time"

	"github.com/hoopgw/hoop/audit"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are the gateway's Prometheus metrics, served at /metrics. One set per process:
// several gateways in one test process share them.
var metrics = struct {
	reg            *prometheus.Registry
	tunnels        prometheus.Gauge
	sessions       prometheus.Counter
	statements     *prometheus.CounterVec
	denials        *prometheus.CounterVec
	masked         *prometheus.CounterVec
	tunnelBytes    *prometheus.CounterVec
	storeWrite     prometheus.Histogram
	storeFailures  prometheus.Counter
	recordFailures prometheus.Counter
	recordsPending prometheus.Gauge
}{
	reg: prometheus.NewRegistry(),
	tunnels: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "hoop", Name: "tunnels_open",
		Help: "Tunnels open now."}),
	sessions: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "hoop", Name: "sessions_total",
		Help: "Database sessions opened."}),
	statements: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "hoop", Name: "statements_total",
		Help: "Statements decided, by class and decision."}, []string{"class", "decision"}),
	denials: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "hoop", Name: "denials_total",
		Help: "Statements and connections refused, by what refused them."}, []string{"kind"}),
	masked: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "hoop", Name: "masked_values_total",
		Help: "Values masked, by detector or column rule (column:table.column)."}, []string{"by"}),
	tunnelBytes: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "hoop", Name: "tunnel_bytes_total",
		Help: "Bytes through tunnels, by direction (in: from clients)."}, []string{"direction"}),
	storeWrite: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "hoop", Name: "store_write_seconds",
		Help:    "Latency of the store's commits (one commit holds many records).",
		Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1}}),
	storeFailures: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "hoop", Name: "store_write_failures_total",
		Help: "Store commits that failed."}),
	recordFailures: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "hoop", Name: "statements_refused_unrecorded_total",
		Help: "Statements refused because their record could not be written."}),
	recordsPending: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "hoop", Name: "records_pending",
		Help: "Records in the journal that the store does not hold yet (at the last commit)."}),
}

func init() {
	m := &metrics
	m.reg.MustRegister(m.tunnels, m.sessions, m.statements, m.denials, m.masked, m.tunnelBytes, m.storeWrite,
		m.storeFailures, m.recordFailures, m.recordsPending, sinkCollector{
			sent:    prometheus.NewDesc("hoop_audit_sink_sent_total", "Audit events a sink delivered.", []string{"sink"}, nil),
			dropped: prometheus.NewDesc("hoop_audit_sink_dropped_total", "Audit events a sink dropped: queue full, or given up after retries.", []string{"sink"}, nil),
		}, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
}

func observeStoreWrite(d time.Duration, err error) {
	metrics.storeWrite.Observe(d.Seconds())
	if err != nil {
		metrics.storeFailures.Inc()
	}
}

// The tunnel byte counters, resolved once.
var (
	bytesIn  = metrics.tunnelBytes.WithLabelValues("in")
	bytesOut = metrics.tunnelBytes.WithLabelValues("out")
)

// sinkStats is the dispatcher whose counts /metrics shows: the last gateway started in
// the process.
var sinkStats atomic.Pointer[audit.Dispatcher]

type sinkCollector struct{ sent, dropped *prometheus.Desc }

func (c sinkCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.sent
	ch <- c.dropped
}

func (c sinkCollector) Collect(ch chan<- prometheus.Metric) {
	d := sinkStats.Load()
	if d == nil {
		return
	}
	for name, n := range d.Sent() {
		ch <- prometheus.MustNewConstMetric(c.sent, prometheus.CounterValue, float64(n), name)
	}
	for name, n := range d.Dropped() {
		ch <- prometheus.MustNewConstMetric(c.dropped, prometheus.CounterValue, float64(n), name)
	}
}
