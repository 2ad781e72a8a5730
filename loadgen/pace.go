package loadgen

import "time"

// pacer is one worker's token bucket. Tokens are fixes; they accrue at the worker's share of the
// rate, and the bucket holds at most maxBurst of them, so that a worker that was held up (a slow
// answer) catches up a little but does not flood the server. A worker that is ahead of its
// schedule by more than slack sleeps, once for the whole deficit: sleeps are per request or per
// write, never per fix, and at most one every slack.
type pacer struct {
	perToken time.Duration // 0: no limit
	next     time.Time     // when the next token is due
	maxBurst time.Duration // the most the schedule may lag behind the clock
	timer    *time.Timer
}

const (
	paceSlack = 2 * time.Millisecond
	paceBurst = 50 * time.Millisecond
)

// newPacer paces at rate tokens per second; rate 0 does not pace.
func newPacer(rate float64, start time.Time) *pacer {
	p := &pacer{next: start, maxBurst: paceBurst}
	if rate > 0 {
		p.perToken = time.Duration(float64(time.Second) / rate)
		p.perToken = max(p.perToken, 1)
	}
	return p
}

// take waits until n tokens have accrued and takes them. The bucket starts empty, so that a run
// of duration D sends rate×D fixes, not a burst more. It returns false, without taking them, when
// they would accrue only after deadline, or when stop is closed while it waits.
func (p *pacer) take(n int, deadline time.Time, stop <-chan struct{}) bool {
	now := time.Now()
	if !now.Before(deadline) {
		return false
	}
	if p.perToken == 0 {
		return true
	}
	p.next = p.floor(n, now)
	at := p.next.Add(time.Duration(n) * p.perToken)
	if at.After(deadline) {
		return false
	}
	p.next = at
	if wait := at.Sub(now); wait > paceSlack {
		if p.timer == nil {
			p.timer = time.NewTimer(wait)
		} else {
			p.timer.Reset(wait)
		}
		select {
		case <-p.timer.C:
		case <-stop:
			p.timer.Stop()
			return false
		}
	}
	return true
}

// dueIn returns how long until n tokens will have accrued.
func (p *pacer) dueIn(n int) time.Duration {
	if p.perToken == 0 {
		return 0
	}
	now := time.Now()
	return p.floor(n, now).Add(time.Duration(n) * p.perToken).Sub(now)
}

// floor returns the schedule with the tokens accrued by now capped at the bucket's size: maxBurst
// worth, and at least the n tokens asked for, which must be able to accrue.
func (p *pacer) floor(n int, now time.Time) time.Time {
	capacity := max(p.maxBurst, time.Duration(n)*p.perToken)
	if floor := now.Add(-capacity); p.next.Before(floor) {
		return floor
	}
	return p.next
}

// sleep waits for d, or until stop is closed; it reports whether it waited the whole time.
func sleep(d time.Duration, stop <-chan struct{}) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-stop:
		return false
	}
}
