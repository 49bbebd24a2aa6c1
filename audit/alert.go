package audit

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Rule is an alert rule: Threshold events that match it, with the same By value, within
// Window, fire an alert. "5 denials by one user in a minute":
//
//	Rule{Name: "denials", Kind: "statement", Where: map[string]string{"decision": "deny"},
//		Threshold: 5, Window: time.Minute, By: "actor"}
//
// and "any read of a masked column" (one alert per person and minute):
//
//	Rule{Name: "pii-read", Kind: "mask.column", Threshold: 1}
type Rule struct {
	Name      string            // "denials"
	Kind      string            // "statement"; "review.*" matches every review event; "*" every event
	Where     map[string]string // {"decision": "deny"}: Data fields that must equal these, compared as strings
	Threshold int               // 5: matching events that fire it; 0 is 1
	Window    time.Duration     // time.Minute (default): the sliding window they must fall in
	By        string            // "actor" (default), "connection", "session", or a Data field: "rule"
}

// The alert defaults.
const (
	DefaultWindow = time.Minute
	DefaultBy     = "actor"
)

// maxHits bounds the memory of one rule: it keeps at most Threshold events per key, and
// at most maxHits/Threshold keys.
const maxHits = 1 << 18

// Alerts evaluates alert rules on the stream of events. It is safe for concurrent use.
type Alerts struct {
	mu        sync.Mutex
	rules     []Rule
	now       func() time.Time
	keys      []map[string]*counter // per rule, by By value
	maxKeys   []int                 // per rule
	lastSweep time.Time
}

// counter is one rule's count for one By value.
type counter struct {
	hits  []hit     // matching events in the window, oldest first
	quiet time.Time // after an alert, none again before this
	last  time.Time // the last matching event
}

type hit struct {
	at   time.Time
	seq  int64
	kind string
}

// NewAlerts checks rules, fills in their defaults, and returns their evaluator. now is
// the clock (nil: time.Now); the window slides by it, not by the events' times.
func NewAlerts(rules []Rule, now func() time.Time) (*Alerts, error) {
	if now == nil {
		now = time.Now
	}
	a := &Alerts{now: now}
	seen := map[string]bool{}
	for _, r := range rules {
		switch {
		case r.Name == "":
			return nil, errors.New("alert rule: no name")
		case seen[r.Name]:
			return nil, fmt.Errorf("alert rule %s: defined twice", r.Name)
		case r.Kind == "":
			return nil, fmt.Errorf("alert rule %s: no kind", r.Name)
		case r.Threshold < 0:
			return nil, fmt.Errorf("alert rule %s: threshold %d: want 1 or more", r.Name, r.Threshold)
		case r.Window < 0:
			return nil, fmt.Errorf("alert rule %s: window %s: want a positive duration", r.Name, r.Window)
		}
		seen[r.Name] = true
		if r.Threshold == 0 {
			r.Threshold = 1
		}
		if r.Window == 0 {
			r.Window = DefaultWindow
		}
		if r.By == "" {
			r.By = DefaultBy
		}
		a.rules = append(a.rules, r)
		a.keys = append(a.keys, map[string]*counter{})
		a.maxKeys = append(a.maxKeys, max(1, maxHits/r.Threshold))
	}
	return a, nil
}

// Observe counts e against every rule and returns the alerts it fires: events of kind
// "alert", by the gateway, whose Data holds the rule, what it counts by and the value,
// the count, the threshold, the window and the seq and kind of up to 10 of the events
// that fired it (the latest):
//
//	{"rule": "denials", "by": "actor", "value": "ana@example.com", "count": 5,
//	 "threshold": 5, "window": "1m0s", "events": [{"seq": 38, "kind": "statement"}, …]}
//
// After a rule fires for a value it stays quiet for that value for one Window: the
// events in between are not counted, and after it Threshold new events fire it again.
// So a burst that goes on gives one alert per Window or so, not one per event.
//
// Alert events are never counted, so that alerts can't feed themselves. Observe events
// after the store has appended them, so that the seqs an alert names are theirs.
func (a *Alerts) Observe(e Event) []Event {
	if a == nil || len(a.rules) == 0 || e.Kind == KindAlert {
		return nil
	}
	now := a.now()
	a.mu.Lock()
	defer a.mu.Unlock()
	if now.Sub(a.lastSweep) >= DefaultWindow {
		for i := range a.rules {
			a.sweep(i, now)
		}
		a.lastSweep = now
	}
	var out []Event
	d := lazyData{e: &e}
	for i, r := range a.rules {
		if !r.matches(e, &d) {
			continue
		}
		key, ok := r.key(e, &d)
		if !ok {
			continue
		}
		c := a.keys[i][key]
		if c == nil {
			if len(a.keys[i]) >= a.maxKeys[i] {
				a.evict(i, now)
			}
			c = &counter{}
			a.keys[i][key] = c
		}
		c.last = now
		if now.Before(c.quiet) {
			continue
		}
		c.expire(now, r.Window)
		c.hits = append(c.hits, hit{at: now, seq: e.Seq, kind: e.Kind})
		if len(c.hits) < r.Threshold {
			continue
		}
		out = append(out, r.alert(key, c.hits, now))
		c.hits = c.hits[:0]
		c.quiet = now.Add(r.Window)
	}
	return out
}

// expire drops the hits that are out of the window ending at now.
func (c *counter) expire(now time.Time, window time.Duration) {
	from := now.Add(-window)
	i := 0
	for i < len(c.hits) && !c.hits[i].at.After(from) {
		i++
	}
	if i > 0 {
		c.hits = append(c.hits[:0], c.hits[i:]...)
	}
}

// sweep forgets the keys of rule i that have nothing in the window and are not quiet.
func (a *Alerts) sweep(i int, now time.Time) {
	for k, c := range a.keys[i] {
		c.expire(now, a.rules[i].Window)
		if len(c.hits) == 0 && !now.Before(c.quiet) {
			delete(a.keys[i], k)
		}
	}
}

// evict makes room for new keys of rule i: it sweeps, and when that is not enough,
// forgets the eighth of the keys seen least recently (so that a flood of new keys costs
// a sort every maxKeys/8 events, not a scan every event).
func (a *Alerts) evict(i int, now time.Time) {
	a.sweep(i, now)
	if len(a.keys[i]) < a.maxKeys[i] {
		return
	}
	type seen struct {
		key  string
		last time.Time
	}
	all := make([]seen, 0, len(a.keys[i]))
	for k, c := range a.keys[i] {
		all = append(all, seen{k, c.last})
	}
	slices.SortFunc(all, func(x, y seen) int { return x.last.Compare(y.last) })
	for _, s := range all[:len(all)/8+1] {
		delete(a.keys[i], s.key)
	}
}

// lazyData decodes an event's Data once, the first time a rule looks into it: most
// events come with the store's text alone (RawData), and most rules look at their kind.
type lazyData struct {
	e    *Event
	m    map[string]any
	done bool
}

func (d *lazyData) get() map[string]any {
	if !d.done {
		d.m, d.done = d.e.Fields(), true
	}
	return d.m
}

// matches reports whether e is of r's kind and has r's Where values.
func (r *Rule) matches(e Event, d *lazyData) bool {
	switch {
	case r.Kind == "*":
	case strings.HasSuffix(r.Kind, ".*"):
		if !strings.HasPrefix(e.Kind, r.Kind[:len(r.Kind)-1]) {
			return false
		}
	case e.Kind != r.Kind:
		return false
	}
	for field, want := range r.Where {
		v, ok := d.get()[field]
		if !ok {
			return false
		}
		if got, ok := dataString(v); !ok || got != want {
			return false
		}
	}
	return true
}

// key returns the value e is counted by; ok is false when e has no such Data field.
func (r *Rule) key(e Event, d *lazyData) (string, bool) {
	switch r.By {
	case "actor":
		return e.Actor, true
	case "connection":
		return e.Connection, true
	case "session":
		return e.Session, true
	}
	v, ok := d.get()[r.By]
	if !ok {
		return "", false
	}
	return dataString(v)
}

// dataString returns a Data value as a rule compares it: a string as it is, a number as
// JSON writes it ("3", "0.5"), true or false; ok is false for null, objects and lists.
func dataString(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case bool:
		return strconv.FormatBool(v), true
	case json.Number:
		return v.String(), true
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), true
	case float32:
		return strconv.FormatFloat(float64(v), 'f', -1, 32), true
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return fmt.Sprint(v), true
	case fmt.Stringer:
		return v.String(), true
	}
	return "", false
}

// alert makes the event for r firing on key, with hits its events.
func (r *Rule) alert(key string, hits []hit, now time.Time) Event {
	last := hits[max(0, len(hits)-10):]
	events := make([]any, len(last))
	for i, h := range last {
		events[i] = map[string]any{"seq": h.seq, "kind": h.kind}
	}
	e := Event{
		Time: now.UTC().Truncate(time.Microsecond),
		Kind: KindAlert,
		Data: map[string]any{
			"rule":      r.Name,
			"by":        r.By,
			"value":     key,
			"count":     len(hits),
			"threshold": r.Threshold,
			"window":    r.Window.String(),
			"events":    events,
		},
	}
	// The alert is about whom or what it counted: the actor or connection it names.
	switch r.By {
	case "actor":
		e.Actor = key
	case "connection":
		e.Connection = key
	}
	return e
}
