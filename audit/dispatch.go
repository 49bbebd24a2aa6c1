package audit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/hoopgw/hoop/internal/fanout"
)

// Config says where a Dispatcher sends events.
type Config struct {
	Sinks  []SinkConfig
	Stdout io.Writer    // where a stdout sink writes; nil is os.Stdout
	Logger *slog.Logger // nil is slog.Default()
}

// logEvery is how often, at most, a sink logs that it drops events.
const logEvery = fanout.LogEvery

// Dispatcher hands events to the sinks. Each sink has its own goroutine and queue, so a
// slow or dead one delays nothing but itself: Publish never blocks, and when a sink's
// queue is full the event is dropped for that sink and counted (Dropped), with a log
// line at most every 10 seconds per sink. The store, not the sinks, is the record that
// must not lose an event.
//
// Every event published is, for each sink, either sent or dropped: after Close,
// Sent()[name] + Dropped()[name] is the number of events published.
type Dispatcher struct {
	pool    *fanout.Pool[Event]
	workers []*worker // in the pool's order
}

// worker runs one sink.
type worker struct {
	*fanout.Worker[Event]
	sink  sink
	batch int           // events per write, at most
	wait  time.Duration // how long a batch waits to fill; 0 sends what is queued
	log   *slog.Logger
	err   error // from closing the sink

	failLog fanout.LogLimit // a failed delivery
}

// NewDispatcher starts a goroutine per sink of cfg (nil: none). It fails when a sink
// can't start: a file that can't be opened, no local syslog. A collector that is down
// is not an error: it is retried when events come.
func NewDispatcher(cfg *Config) (*Dispatcher, error) {
	if cfg == nil {
		cfg = &Config{}
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	stdout := cfg.Stdout
	if stdout == nil {
		stdout = os.Stdout
	}
	d := &Dispatcher{pool: &fanout.Pool[Event]{}}
	names := map[string]int{}
	for _, sc := range cfg.Sinks {
		sc = sc.withDefaults()
		name := sc.name()
		if names[name]++; names[name] > 1 {
			name = fmt.Sprintf("%s#%d", name, names[name])
		}
		s, err := newSink(sc, stdout)
		if err != nil {
			for _, w := range d.workers {
				w.sink.close()
			}
			return nil, fmt.Errorf("audit sink %s: %w", name, err)
		}
		w := &worker{sink: s, batch: 256, log: log.With("sink", name)}
		if sc.Type == SinkWebhook {
			w.batch, w.wait = sc.Batch, sc.Flush
		}
		w.Worker = d.pool.Add(name, sc.Queue, func(ctx context.Context, _ *fanout.Worker[Event]) { w.run(ctx) })
		d.workers = append(d.workers, w)
	}
	d.pool.Start()
	return d, nil
}

// Publish queues e for every sink and returns at once. The sinks read e.Data from their
// goroutines: don't change it afterwards. A nil Dispatcher drops everything.
func (d *Dispatcher) Publish(e Event) {
	if d == nil {
		return
	}
	d.pool.Publish(e, func(i int, total uint64) {
		d.workers[i].log.Warn("audit sink dropped events", "why", "queue full", "dropped_total", total)
	})
}

// Sent returns, by sink name, how many events each sink delivered: {"file:/var/lib/
// hoop/audit.jsonl": 1200, "webhook:https://siem.example.com/hoop": 1100}.
func (d *Dispatcher) Sent() map[string]uint64 { return d.fanout().Sent() }

// Dropped returns, by sink name, how many events each sink dropped: its queue was full,
// or it gave a batch up after its retries.
func (d *Dispatcher) Dropped() map[string]uint64 { return d.fanout().Dropped() }

// fanout is d's pool, nil for a nil Dispatcher.
func (d *Dispatcher) fanout() *fanout.Pool[Event] {
	if d == nil {
		return nil
	}
	return d.pool
}

// Close stops taking events and lets each sink deliver what it has queued, until ctx
// ends; then the sinks stop retrying, count what is left as dropped, and close. It
// returns ctx's error when it had to cut delivery short. Publish after Close drops.
func (d *Dispatcher) Close(ctx context.Context) error {
	dropped, err := d.fanout().Close(ctx)
	if errors.Is(err, fanout.ErrClosed) { // closed already, or nil
		return nil
	}
	if err != nil {
		err = fmt.Errorf("audit close: %w (%d events dropped in all)", err, dropped)
	}
	errs := []error{err}
	for _, w := range d.workers {
		if w.err != nil {
			errs = append(errs, fmt.Errorf("audit sink %s: %w", w.Name(), w.err))
		}
	}
	return errors.Join(errs...)
}

// run delivers the queue in batches until it is closed and empty.
func (w *worker) run(ctx context.Context) {
	batch := make([]Event, 0, w.batch)
	var timer *time.Timer
	for {
		e, ok := <-w.Queue()
		if !ok {
			break
		}
		batch = append(batch[:0], e)
		open := true
		if w.wait > 0 {
			// Wait up to w.wait for a full batch.
			if timer == nil {
				timer = time.NewTimer(w.wait)
			} else {
				timer.Reset(w.wait)
			}
		fill:
			for open && len(batch) < w.batch {
				select {
				case e, ok := <-w.Queue():
					if open = ok; ok {
						batch = append(batch, e)
					}
				case <-timer.C:
					break fill
				}
			}
			timer.Stop()
		} else {
			// Take what is queued now, without waiting.
		take:
			for open && len(batch) < w.batch {
				select {
				case e, ok := <-w.Queue():
					if open = ok; ok {
						batch = append(batch, e)
					}
				default:
					break take
				}
			}
		}
		w.deliver(ctx, batch)
		if !open {
			break
		}
	}
	w.err = w.sink.close()
}

func (w *worker) deliver(ctx context.Context, batch []Event) {
	n, err := w.sink.write(ctx, batch)
	n = max(0, min(n, len(batch)))
	w.Sent(n)
	if err != nil {
		total := w.Drop(len(batch) - n)
		if w.failLog.Allow() {
			w.log.Warn("audit sink dropped events", "why", "delivery failed", "dropped_total", total, "error", err.Error())
		}
	}
}
