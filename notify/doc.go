// Package notify tells approvers that a review opened: a statement held for approval, or a
// request for time-boxed access to a connection. A Notifier sends each review to every
// configured target: a Slack-compatible incoming webhook, a generic JSON webhook, or
// e-mail over SMTP.
//
//	gateway ── Review(r) ─▶ queue ─▶ slack    POST {"text": …, "blocks": […]}
//	  (never waits)         queue ─▶ webhook  POST {"event": "review.opened", "review": r}
//	                        queue ─▶ email    SMTP: EHLO, STARTTLS, AUTH PLAIN, MAIL, RCPT…, DATA
//
// Each target has its own goroutine and bounded queue, so a slow or dead one delays
// nothing but itself: Review never blocks, a full queue drops the review for that target
// and counts it (Dropped). A failed delivery is tried again after a backoff, a bounded
// number of times. Notifications are a courtesy: the review itself lives in the store and
// is listed by hoop approvals whether or not anyone was told. Every message carries the
// review's URL. The messages are described in spec.md.
package notify
