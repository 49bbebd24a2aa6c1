package server

import (
	"fmt"
	"time"
)

// reviewLimiter bounds the reviews one identity opens: at most maxPending waiting at once,
// and at most perMinute opened in any minute (a sliding window). Approvers' attention is
// what a flood of reviews would starve, and every review is kept in memory until decided.
// It is not safe for concurrent use: reviews calls it with its lock held.
type reviewLimiter struct {
	maxPending int
	perMinute  int
	now        func() time.Time       // time.Now, or a test's clock
	opened     map[string][]time.Time // identity key → when its reviews of the last minute opened, oldest first
	swept      time.Time              // when opened was last rid of identities idle for a minute
}

// reviewWindow is the window perMinute counts in.
const reviewWindow = time.Minute

func newReviewLimiter(maxPending, perMinute int, now func() time.Time) *reviewLimiter {
	return &reviewLimiter{maxPending: maxPending, perMinute: perMinute, now: now, opened: make(map[string][]time.Time)}
}

// reviewLimitError refuses a review over one of the limits.
type reviewLimitError struct {
	msg string
}

func (e *reviewLimitError) Error() string { return e.msg }

// take counts one more review for the identity key (who names it in the refusal) that
// has pending reviews waiting now, or refuses it, saying which limit and what to do.
func (l *reviewLimiter) take(key, who string, pending int) error {
	now := l.now()
	if pending >= l.maxPending {
		return &reviewLimitError{fmt.Sprintf("%s has %d reviews pending, the most one identity may have at once (reviews.max_pending in the gateway config): wait until approvers decide them, or withdraw some (cancel their statements), then run it again",
			who, pending)}
	}
	if now.Sub(l.swept) >= reviewWindow {
		for k, ts := range l.opened {
			if len(ts) == 0 || now.Sub(ts[len(ts)-1]) >= reviewWindow {
				delete(l.opened, k)
			}
		}
		l.swept = now
	}
	ts := l.opened[key]
	i := 0
	for i < len(ts) && now.Sub(ts[i]) >= reviewWindow {
		i++
	}
	ts = ts[i:]
	if len(ts) >= l.perMinute {
		wait := ts[0].Add(reviewWindow).Sub(now).Round(time.Second)
		l.opened[key] = ts
		return &reviewLimitError{fmt.Sprintf("%s opened %d reviews in the last minute, the most one identity may (reviews.max_per_minute in the gateway config): run it again in %s",
			who, len(ts), max(wait, time.Second))}
	}
	l.opened[key] = append(ts, now)
	return nil
}
