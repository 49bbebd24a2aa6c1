package audit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Config says where a Dispatcher sends events.
type Config struct {
	Sinks  []SinkConfig
	Stdout io.Writer    // where a stdout sink writes; nil is os.Stdout
	Logger *slog.Logger // nil is slog.Default()
}

// logEvery is how often, at most, a sink logs that it drops events.
const logEvery = 10 * time.Second

// Dispatcher hands events to the sinks. Each sink has its own goroutine and queue, so a
// slow or dead one delays nothing but itself: Publish never blocks, and when a sink's
// queue is full the event is dropped for that sink and counted (Dropped), with a log
// line at most every 10 seconds per sink. The store, not the sinks, is the record that
// must not lose an event.
//
// Every event published is, for each sink, either sent or dropped: after Close,
// Sent()[name] + Dropped()[name] is the number of events published.
type Dispatcher struct {
	workers []*worker
	ctx     context.Context // ends when Close gives up waiting: sinks stop retrying
	cancel  context.CancelFunc

	mu     sync.RWMutex // Publish holds it shared, Close exclusively
	closed bool
}

// worker runs one sink.
type worker struct {
	name  string
	sink  sink
	queue chan Event
	batch int           // events per write, at most
	wait  time.Duration // how long a batch waits to fill; 0 sends what is queued
	log   *slog.Logger
	done  chan struct{}
	err   error // from closing the sink

	sent, dropped    atomic.Uint64
	fullLog, failLog atomic.Int64 // when a full queue, a failed delivery was last logged (Unix ns)
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
	d := &Dispatcher{}
	d.ctx, d.cancel = context.WithCancel(context.Background())
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
			d.cancel()
			return nil, fmt.Errorf("audit sink %s: %w", name, err)
		}
		w := &worker{name: name, sink: s, queue: make(chan Event, sc.Queue), batch: 256,
			log: log.With("sink", name), done: make(chan struct{})}
		if sc.Type == SinkWebhook {
			w.batch, w.wait = sc.Batch, sc.Flush
		}
		d.workers = append(d.workers, w)
	}
	for _, w := range d.workers {
		go w.run(d.ctx)
	}
	return d, nil
}

// Publish queues e for every sink and returns at once. The sinks read e.Data from their
// goroutines: don't change it afterwards. A nil Dispatcher drops everything.
func (d *Dispatcher) Publish(e Event) {
	if d == nil {
		return
	}
	d.mu.RLock()
	defer d.mu.RUnlock()
	for _, w := range d.workers {
		if d.closed {
			w.dropped.Add(1)
			continue
		}
		select {
		case w.queue <- e:
		default:
			w.drop(1, &w.fullLog, "queue full")
		}
	}
}

// drop counts n events dropped, and logs why unless it did within logEvery (last).
func (w *worker) drop(n int, last *atomic.Int64, why string, args ...any) {
	total := w.dropped.Add(uint64(n))
	now := time.Now().UnixNano()
	prev := last.Load()
	if now-prev < int64(logEvery) || !last.CompareAndSwap(prev, now) {
		return
	}
	w.log.Warn("audit sink dropped events", append([]any{"why", why, "dropped_total", total}, args...)...)
}

// Sent returns, by sink name, how many events each sink delivered: {"file:/var/lib/
// hoop/audit.jsonl": 1200, "webhook:https://siem.example.com/hoop": 1100}.
func (d *Dispatcher) Sent() map[string]uint64 {
	m := map[string]uint64{}
	if d != nil {
		for _, w := range d.workers {
			m[w.name] = w.sent.Load()
		}
	}
	return m
}

// Dropped returns, by sink name, how many events each sink dropped: its queue was full,
// or it gave a batch up after its retries.
func (d *Dispatcher) Dropped() map[string]uint64 {
	m := map[string]uint64{}
	if d != nil {
		for _, w := range d.workers {
			m[w.name] = w.dropped.Load()
		}
	}
	return m
}

// Close stops taking events and lets each sink deliver what it has queued, until ctx
// ends; then the sinks stop retrying, count what is left as dropped, and close. It
// returns ctx's error when it had to cut delivery short. Publish after Close drops.
func (d *Dispatcher) Close(ctx context.Context) error {
	if d == nil {
		return nil
	}
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	d.closed = true
	for _, w := range d.workers {
		close(w.queue)
	}
	d.mu.Unlock()

	all := make(chan struct{})
	go func() {
		for _, w := range d.workers {
			<-w.done
		}
		close(all)
	}()
	var err error
	select {
	case <-all:
	case <-ctx.Done():
		// Every network wait of a sink ends with d.ctx, so the workers finish soon.
		d.cancel()
		<-all
		var dropped uint64
		for _, w := range d.workers {
			dropped += w.dropped.Load()
		}
		err = fmt.Errorf("audit close: %w (%d events dropped in all)", ctx.Err(), dropped)
	}
	d.cancel()
	errs := []error{err}
	for _, w := range d.workers {
		if w.err != nil {
			errs = append(errs, fmt.Errorf("audit sink %s: %w", w.name, w.err))
		}
	}
	return errors.Join(errs...)
}

// run delivers the queue in batches until it is closed and empty.
func (w *worker) run(ctx context.Context) {
	defer close(w.done)
	batch := make([]Event, 0, w.batch)
	var timer *time.Timer
	for {
		e, ok := <-w.queue
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
				case e, ok := <-w.queue:
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
				case e, ok := <-w.queue:
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
	w.sent.Add(uint64(n))
	if err != nil {
		w.drop(len(batch)-n, &w.failLog, "delivery failed", "error", err.Error())
	}
}
