package main

// The Metric fields the harness uses, and Argo's ValidateMetric rules (utils/analysis/
// factory.go, v1.9.1), which the controller applies to the resolved metrics of a run.

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// intOrString reads like Kubernetes' intstr.IntOrString: IntValue of a non-numeric string is 0.
type intOrString struct {
	set bool
	num int
}

func (v *intOrString) UnmarshalJSON(b []byte) error {
	v.set = true
	var n int
	if err := json.Unmarshal(b, &n); err == nil {
		v.num = n
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("neither an integer nor a string: %s", b)
	}
	v.num, _ = strconv.Atoi(s)
	return nil
}

// value returns the number, or def when the field is absent.
func (v intOrString) value(def int) int {
	if !v.set {
		return def
	}
	return v.num
}

type webMetric struct {
	Method  string `json:"method"`
	URL     string `json:"url"`
	Headers []struct {
		Key   string `json:"key"`
		Value string `json:"value"`
	} `json:"headers"`
	Body           string          `json:"body"`
	JSONBody       json.RawMessage `json:"jsonBody"`
	TimeoutSeconds int64           `json:"timeoutSeconds"`
	JSONPath       string          `json:"jsonPath"`
	Insecure       bool            `json:"insecure"`
	Authentication json.RawMessage `json:"authentication"`
}

type metric struct {
	Name                    string                     `json:"name"`
	Interval                string                     `json:"interval"`
	InitialDelay            string                     `json:"initialDelay"`
	Count                   intOrString                `json:"count"`
	FailureLimit            intOrString                `json:"failureLimit"`
	InconclusiveLimit       intOrString                `json:"inconclusiveLimit"`
	ConsecutiveErrorLimit   intOrString                `json:"consecutiveErrorLimit"`
	ConsecutiveSuccessLimit intOrString                `json:"consecutiveSuccessLimit"`
	SuccessCondition        string                     `json:"successCondition"`
	FailureCondition        string                     `json:"failureCondition"`
	Provider                map[string]json.RawMessage `json:"provider"`

	web      webMetric
	jsonPath []pathStep
}

// defaultConsecutiveErrorLimit is Argo's DefaultConsecutiveErrorLimit.
const defaultConsecutiveErrorLimit = 4

// effectiveCount is Argo's Metric.EffectiveCount; ok is false for a metric that runs until
// its run is terminated (an interval and no count).
func (m *metric) effectiveCount() (n int, ok bool) {
	if m.Count.value(0) == 0 {
		if m.Interval == "" {
			return 1, true
		}
		return 0, false
	}
	return m.Count.value(0), true
}

func (m *metric) duration(field, s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid %s string: %v", field, err)
	}
	return d, nil
}

func (m *metric) validate() error {
	count := m.Count.value(0)
	failureLimit := m.FailureLimit.value(0)
	successLimit := m.ConsecutiveSuccessLimit.value(0)
	inconclusiveLimit := m.InconclusiveLimit.value(0)
	switch {
	case successLimit < 0:
		return fmt.Errorf("consecutiveSuccessLimit must be >= 0")
	case failureLimit < -1:
		return fmt.Errorf("failureLimit must be >= 0, or -1 to be disabled")
	case successLimit == 0 && failureLimit == -1:
		return fmt.Errorf("failureLimit and consecutiveSuccessLimit cannot both be disabled")
	case inconclusiveLimit < 0:
		return fmt.Errorf("inconclusiveLimit must be >= 0")
	case m.ConsecutiveErrorLimit.value(0) < 0:
		return fmt.Errorf("consecutiveErrorLimit must be >= 0")
	}
	if count > 0 {
		if failureLimit >= 0 && count < failureLimit+successLimit {
			return fmt.Errorf("count (%d) must be >= failureLimit + consecutiveSuccessLimit (%d + %d) if both >= 0", count, failureLimit, successLimit)
		}
		if failureLimit < 0 && count < successLimit {
			return fmt.Errorf("count must be >= consecutiveSuccessLimit")
		}
		if count < inconclusiveLimit {
			return fmt.Errorf("count must be >= inconclusiveLimit")
		}
	}
	if count > 1 && m.Interval == "" {
		return fmt.Errorf("interval must be specified when count > 1")
	}
	if _, err := m.duration("interval", m.Interval); err != nil {
		return err
	}
	if _, err := m.duration("startDelay", m.InitialDelay); err != nil {
		return err
	}
	if len(m.Provider) != 1 {
		return fmt.Errorf("exactly one provider must be specified, got %d", len(m.Provider))
	}
	raw, ok := m.Provider["web"]
	if !ok {
		return fmt.Errorf("only the web provider is supported by this harness")
	}
	if err := json.Unmarshal(raw, &m.web); err != nil {
		return fmt.Errorf("provider.web: %v", err)
	}
	if len(m.web.Authentication) > 0 && string(m.web.Authentication) != "null" {
		return fmt.Errorf("provider.web.authentication is not supported by this harness")
	}
	steps, err := parseJSONPath(m.web.JSONPath)
	if err != nil {
		return err
	}
	m.jsonPath = steps
	return nil
}
