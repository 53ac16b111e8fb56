package main

// An AnalysisRun's life as the controller leads it (analysis/analysis.go, v1.9.1), on a
// virtual clock:
//
// Scheduling: a metric's first measurement comes `initialDelay` after the run starts; the
// next one `interval` after the previous finished, or 10s after it when it was an Error.
// No more measurements once the count is reached or the run is terminating.
//
// Counters: Successful, Failed and Inconclusive each add to `count`; an Error does not. Any
// non-Error resets consecutiveError; anything but Successful resets consecutiveSuccess.
//
// Assessment of a metric, after each measurement, first rule that applies:
//  1. failed > failureLimit (default 0; -1 disables) -> Failed, then inconclusive >
//     inconclusiveLimit -> Inconclusive, then consecutiveError > consecutiveErrorLimit
//     (default 4) -> Error; when several hold, the later one named here wins;
//  2. consecutiveSuccessLimit > 0 reached -> Successful;
//  3. count reached -> Inconclusive when failureLimit and consecutiveSuccessLimit both apply,
//     Failed when only consecutiveSuccessLimit applies, Successful otherwise;
//  4. a metric without count runs until the run is terminated, then counts as Successful.
//
// The run ends when every metric has, or as soon as one ends Failed, Error or Inconclusive
// (the run is then terminating); its phase is the worst metric phase, in the order
// Successful < Running < Pending < Inconclusive < Error < Failed.

import (
	"fmt"
	"time"
)

const errorRetryInterval = 10 * time.Second

type measurement struct {
	Phase     string  `json:"phase"`
	Value     string  `json:"value,omitempty"`
	Message   string  `json:"message,omitempty"`
	AtSeconds float64 `json:"atSeconds"`
}

type metricResult struct {
	Name               string        `json:"name"`
	Phase              string        `json:"phase"`
	Message            string        `json:"message,omitempty"`
	Count              int           `json:"count"`
	Successful         int           `json:"successful"`
	Failed             int           `json:"failed"`
	Inconclusive       int           `json:"inconclusive"`
	Error              int           `json:"error"`
	ConsecutiveError   int           `json:"consecutiveError"`
	ConsecutiveSuccess int           `json:"consecutiveSuccess"`
	Measurements       []measurement `json:"measurements"`

	metric  *metric
	nextDue time.Duration
}

type runOptions struct {
	timeScale       float64
	terminateAfter  time.Duration
	maxMeasurements int
	sleep           func(time.Duration)
}

type analysisRun struct {
	template    string
	results     []*metricResult
	args        resolvedArgs
	opts        runOptions
	now         time.Duration
	terminated  bool
	phase       string
	message     string
	measurement int
}

type report struct {
	Template       string          `json:"template"`
	Phase          string          `json:"phase"`
	Message        string          `json:"message,omitempty"`
	VirtualSeconds float64         `json:"virtualSeconds"`
	Metrics        []*metricResult `json:"metrics"`
}

func newRun(template string, metrics []metric, args resolvedArgs, opts runOptions) *analysisRun {
	r := &analysisRun{template: template, args: args, opts: opts}
	for i := range metrics {
		m := &metrics[i]
		delay, _ := m.duration("startDelay", m.InitialDelay)
		r.results = append(r.results, &metricResult{Name: m.Name, Phase: phasePending, metric: m, nextDue: delay, Measurements: []measurement{}})
	}
	return r
}

func completed(phase string) bool {
	return phase == phaseSuccessful || phase == phaseFailed || phase == phaseError || phase == phaseInconclusive
}

func (r *analysisRun) execute() error {
	for {
		if phase, done := r.assessRun(); done {
			r.phase = phase
			return nil
		}
		next := r.nextMetric()
		if r.opts.terminateAfter > 0 && next.nextDue > r.opts.terminateAfter {
			r.wait(r.opts.terminateAfter)
			r.terminated = true // the Rollout ended the run (spec.terminate)
			continue
		}
		if r.measurement >= r.opts.maxMeasurements {
			return fmt.Errorf("gave up after %d measurements at %v of Argo time", r.measurement, r.now)
		}
		r.wait(next.nextDue)
		r.measure(next)
	}
}

func (r *analysisRun) wait(until time.Duration) {
	if until > r.now {
		if r.opts.timeScale > 0 {
			r.opts.sleep(time.Duration(float64(until-r.now) * r.opts.timeScale))
		}
		r.now = until
	}
}

// nextMetric is the incomplete metric due first.
func (r *analysisRun) nextMetric() *metricResult {
	var next *metricResult
	for _, res := range r.results {
		if !completed(res.Phase) && (next == nil || res.nextDue < next.nextDue) {
			next = res
		}
	}
	return next
}

func (r *analysisRun) measure(res *metricResult) {
	r.measurement++
	phase, value, message := measureWeb(res.metric)
	res.Measurements = append(res.Measurements, measurement{Phase: phase, Value: value, Message: r.args.redact(message), AtSeconds: r.now.Seconds()})
	switch phase {
	case phaseSuccessful:
		res.Successful++
		res.Count++
		res.ConsecutiveError = 0
		res.ConsecutiveSuccess++
	case phaseFailed:
		res.Failed++
		res.Count++
		res.ConsecutiveError = 0
		res.ConsecutiveSuccess = 0
	case phaseInconclusive:
		res.Inconclusive++
		res.Count++
		res.ConsecutiveError = 0
		res.ConsecutiveSuccess = 0
	case phaseError:
		res.Error++
		res.ConsecutiveError++
		res.ConsecutiveSuccess = 0
	}
	interval, _ := res.metric.duration("interval", res.metric.Interval)
	if phase == phaseError || interval == 0 {
		interval = errorRetryInterval
	}
	res.nextDue = r.now + interval
}

// limitBreach is rule 1 of the assessment, with Argo's reason text.
func limitBreach(res *metricResult) (phase, reason string) {
	m := res.metric
	if failureLimit := m.FailureLimit.value(0); failureLimit >= 0 && res.Failed > failureLimit {
		phase, reason = phaseFailed, fmt.Sprintf("failed (%d) > failureLimit (%d)", res.Failed, failureLimit)
	}
	if limit := m.InconclusiveLimit.value(0); res.Inconclusive > limit {
		phase, reason = phaseInconclusive, fmt.Sprintf("inconclusive (%d) > inconclusiveLimit (%d)", res.Inconclusive, limit)
	}
	if limit := m.ConsecutiveErrorLimit.value(defaultConsecutiveErrorLimit); res.ConsecutiveError > limit {
		phase, reason = phaseError, fmt.Sprintf("consecutiveErrors (%d) > consecutiveErrorLimit (%d)", res.ConsecutiveError, limit)
	}
	return phase, reason
}

func (r *analysisRun) assessMetric(res *metricResult, terminating bool) string {
	if completed(res.Phase) {
		return res.Phase
	}
	if len(res.Measurements) == 0 {
		if terminating {
			return phaseSuccessful
		}
		return phasePending
	}
	if phase, _ := limitBreach(res); phase != "" {
		return phase
	}
	m := res.metric
	successLimit := m.ConsecutiveSuccessLimit.value(0)
	if successLimit > 0 && res.ConsecutiveSuccess >= successLimit {
		return phaseSuccessful
	}
	if count, bounded := m.effectiveCount(); bounded && res.Count >= count {
		failureApplies := m.FailureLimit.value(0) >= 0
		successApplies := successLimit > 0
		switch {
		case failureApplies && successApplies:
			return phaseInconclusive
		case successApplies:
			return phaseFailed
		}
		return phaseSuccessful
	}
	if terminating {
		return phaseSuccessful
	}
	return phaseRunning
}

var phaseOrder = map[string]int{phaseSuccessful: 0, phaseRunning: 1, phasePending: 2, phaseInconclusive: 3, phaseError: 4, phaseFailed: 5}

func (r *analysisRun) terminating() bool {
	if r.terminated {
		return true
	}
	for _, res := range r.results {
		if res.Phase == phaseFailed || res.Phase == phaseError || res.Phase == phaseInconclusive {
			return true
		}
	}
	return false
}

func (r *analysisRun) updatePhases(terminating bool) {
	for _, res := range r.results {
		if phase := r.assessMetric(res, terminating); phase != res.Phase {
			if n := len(res.Measurements); n > 0 {
				res.Message = res.Measurements[n-1].Message
			}
			res.Phase = phase
		}
	}
}

// assessRun updates every metric's phase and tells whether the run is over, and with which phase.
func (r *analysisRun) assessRun() (string, bool) {
	r.updatePhases(r.terminating())
	// A metric that has just ended badly stops the others at once, as the controller's next
	// reconcile would (no further measurement is taken in between).
	terminating := r.terminating()
	if terminating {
		r.updatePhases(true)
	}
	worst, message, everythingCompleted := "", "", true
	if r.terminated {
		message = "Run Terminated"
	}
	for _, res := range r.results {
		if !completed(res.Phase) {
			everythingCompleted = false
			continue
		}
		if worst == "" || phaseOrder[res.Phase] > phaseOrder[worst] {
			worst = res.Phase
			if _, reason := limitBreach(res); reason != "" {
				message = fmt.Sprintf("Metric %q assessed %s due to %s", res.Name, res.Phase, reason)
				if res.Message != "" {
					message += fmt.Sprintf(": \"Error Message: %s\"", res.Message)
				}
			}
		}
	}
	if !terminating && (!everythingCompleted || worst == "") {
		return phaseRunning, false
	}
	if worst == "" {
		worst = phaseSuccessful // terminated before any measurement
	}
	r.message = message
	return worst, true
}

func (r *analysisRun) report() report {
	return report{Template: r.template, Phase: r.phase, Message: r.message, VirtualSeconds: r.now.Seconds(), Metrics: r.results}
}
